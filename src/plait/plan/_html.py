"""A standalone HTML page for a plan: an inline SVG drawing, laid out here, no scripts.

Layout (Sugiyama-style, each phase linear or ``n log n``): DFS marks back edges (loops);
a node's layer is its longest path from the start over the other edges; edges that span
layers get dummy points; a few barycenter sweeps order each layer to reduce crossings;
x positions are the least-squares fit to the neighbours' mean that keeps the order
(pool-adjacent-violators). Back edges are drawn dashed, curving round the right side.
"""

from __future__ import annotations

from collections import deque
from html import escape
from itertools import pairwise

from plait.define import AnyOf, Condition, Leaf
from plait.plan._graph import kickoff_steps, leaf_sources, producers_of
from plait.plan._model import Plan, PlanStep
from plait.plan._render import mermaid

_CHAR_W, _GAP_X, _GAP_Y, _MARGIN, _MAX_LABEL = 7.4, 28.0, 60.0, 24.0, 48
_COLORS = {
    "start": ("#1e293b", "#1e293b", "#fff"),
    "step": ("#eef2ff", "#4f46e5", "#1e1b4b"),
    "router": ("#fef3c7", "#d97706", "#451a03"),
    "join": ("#ccfbf1", "#0f766e", "#134e4a"),
    "event": ("#ecfeff", "#0891b2", "#164e63"),
}


class _Graph:
    """Nodes as parallel lists (index = id), edges as (source, target, label)."""

    def __init__(self) -> None:
        self.kind: list[str] = []
        self.label: list[str] = []
        self.title: list[str] = []
        self.w: list[float] = []
        self.h: list[float] = []
        self.edges: dict[tuple[int, int, str], None] = {}

    def add(self, kind: str, label: str = "", title: str = "") -> int:
        shown = label if len(label) <= _MAX_LABEL else label[: _MAX_LABEL - 1] + "…"
        text_w = _CHAR_W * len(shown)
        w, h = {
            "start": (64.0, 30.0),
            "step": (max(72.0, text_w + 28), 36.0),
            "router": (max(96.0, text_w + 60), 54.0),
            "join": (24.0, 24.0),
            "event": (text_w + 40, 32.0),
            "dummy": (6.0, 0.0),
        }[kind]
        self.kind.append(kind)
        self.label.append(shown)
        self.title.append(title or label)
        self.w.append(w)
        self.h.append(h)
        return len(self.kind) - 1


def _step_title(s: PlanStep) -> str:
    facts = [
        f"{s.kind} {s.name}",
        "start step" if s.start else "",
        f"when {s.trigger.describe()}" if s.trigger is not None else "",
        "labels: " + ", ".join(s.labels) if s.labels else "",
        f"retry: {s.retry.attempts} attempts" if s.retry is not None else "",
        f"timeout: {s.timeout} s" if s.timeout is not None else "",
        "writes: " + ", ".join(s.writes) if s.writes else "",
    ]
    return "\n".join(f for f in facts if f)


def _build(plan: Plan) -> _Graph:
    g = _Graph()
    start = g.add("start", "start", "what runs when a run begins")
    ids = {s.name: g.add(s.kind, s.name, _step_title(s)) for s in plan.steps}
    steps = list(plan.steps)
    prod = producers_of(steps)
    open_routers = [s.name for s in steps if s.kind == "router" and s.labels is None]
    kickoff = set(kickoff_steps(steps))
    events: dict[str, int] = {}

    def sources(cond: Condition, owner: PlanStep) -> list[tuple[int, str]]:
        if isinstance(cond, Leaf):
            if cond.kind != "event":
                found = leaf_sources(owner, cond, prod, open_routers)
                return [(ids[src], lab) for src, lab in found if src in ids]
            if cond.name not in events:
                events[cond.name] = g.add("event", f"event {cond.name}", f"emit({cond.name!r})")
            return [(events[cond.name], "")]
        if isinstance(cond, AnyOf) or len(cond.children) == 1:  # and_(x) is just x
            return [src for child in cond.children for src in sources(child, owner)]
        join = g.add("join", "and", "and_: " + cond.describe())
        for child in cond.children:
            for src, lab in sources(child, owner):
                g.edges[(src, join, lab)] = None
        return [(join, "")]

    for s in plan.steps:
        if s.name in kickoff:
            g.edges[(start, ids[s.name], "")] = None
        if s.trigger is not None:
            for src, lab in sources(s.trigger, s):
                g.edges[(src, ids[s.name], lab)] = None
    return g


class _Layout:
    def __init__(self, g: _Graph) -> None:
        n = len(g.kind)
        self.g = g
        out: list[list[tuple[int, int, str]]] = [[] for _ in range(n)]
        for e in g.edges:
            out[e[0]].append(e)
        # 1. DFS from the start, then from other sources (events), then from anything left:
        #    an edge into a node on the stack closes a loop.
        self.back: list[tuple[int, int, str]] = []
        state = [0] * n  # 0 new, 1 on stack, 2 done
        pre: list[int] = [0] * n
        counter = 0
        has_in = {e[1] for e in g.edges}
        for root in [0, *(v for v in range(n) if v not in has_in), *range(n)]:
            if state[root]:
                continue
            state[root], pre[root], counter = 1, counter, counter + 1
            stack = [(root, 0)]
            while stack:
                v, i = stack[-1]
                if i == len(out[v]):
                    state[v] = 2
                    stack.pop()
                    continue
                stack[-1] = (v, i + 1)
                e = out[v][i]
                if state[e[1]] == 1:
                    self.back.append(e)
                elif state[e[1]] == 0:
                    state[e[1]], pre[e[1]], counter = 1, counter, counter + 1
                    stack.append((e[1], 0))
        back = set(self.back)
        self.forward = [e for e in g.edges if e not in back]
        # 2. Layers: longest path over forward edges (Kahn); sources other than the start
        #    (events) sit just above their first listener.
        succ: list[list[int]] = [[] for _ in range(n)]
        indeg = [0] * n
        for src, dst, _ in self.forward:
            succ[src].append(dst)
            indeg[dst] += 1
        sources = [v for v in range(n) if indeg[v] == 0]
        layer = [0] * n
        queue = deque(sources)
        while queue:
            v = queue.popleft()
            for t in succ[v]:
                layer[t] = max(layer[t], layer[v] + 1)
                indeg[t] -= 1
                if indeg[t] == 0:
                    queue.append(t)
        for v in sources:
            if v != 0 and succ[v]:
                layer[v] = max(0, min(layer[t] for t in succ[v]) - 1)
        # 3. Dummy points on long edges (capped, so a pathological plan stays linear).
        self.chain: dict[tuple[int, int, str], list[int]] = {}
        budget = 20 * n + 5000
        for e in self.forward:
            src, dst, _ = e
            path = [src]
            if layer[dst] - layer[src] - 1 <= budget:
                for lay in range(layer[src] + 1, layer[dst]):
                    budget -= 1
                    d = g.add("dummy")
                    layer.append(lay)
                    pre.append(pre[src])
                    path.append(d)
            path.append(dst)
            self.chain[e] = path
        total = len(g.kind)
        self.up: list[list[int]] = [[] for _ in range(total)]
        self.down: list[list[int]] = [[] for _ in range(total)]
        for path in self.chain.values():
            for a, b in pairwise(path):
                self.down[a].append(b)
                self.up[b].append(a)
        self.layer = layer
        self.layers: list[list[int]] = [[] for _ in range(max(layer) + 1)]
        for v in sorted(range(total), key=pre.__getitem__):
            self.layers[layer[v]].append(v)
        self._order()
        self.x = [0.0] * total
        self.y = [0.0] * total
        self._coordinates()

    def _order(self) -> None:
        """Barycenter sweeps, down then up: each node moves toward its neighbours' mean."""
        pos = [0.0] * len(self.layer)
        for row in self.layers:
            for i, v in enumerate(row):
                pos[v] = i
        for sweep in range(4):
            rows = self.layers[1:] if sweep % 2 == 0 else self.layers[-2::-1]
            near = self.up if sweep % 2 == 0 else self.down
            for row in rows:
                keys = {
                    v: sum(pos[u] for u in near[v]) / len(near[v]) if near[v] else pos[v]
                    for v in row
                }
                row.sort(key=keys.__getitem__)
                for i, v in enumerate(row):
                    pos[v] = i

    def _coordinates(self) -> None:
        g, x = self.g, self.x
        for row in self.layers:
            left = 0.0
            for v in row:
                x[v] = left + g.w[v] / 2
                left += g.w[v] + _GAP_X
            for v in row:
                x[v] -= left / 2
        for sweep in range(3):
            rows = self.layers[1:] if sweep % 2 == 0 else self.layers[-2::-1]
            near = self.up if sweep % 2 == 0 else self.down
            for row in rows:
                want = [sum(x[u] for u in near[v]) / len(near[v]) if near[v] else x[v] for v in row]
                for v, value in zip(row, _fit(want, [g.w[v] for v in row]), strict=True):
                    x[v] = value
        shift = _MARGIN - min(x[v] - g.w[v] / 2 for v in range(len(x)))
        for v in range(len(x)):
            x[v] += shift
        top = _MARGIN
        for row in self.layers:
            height = max([g.h[v] for v in row] + [8.0])
            for v in row:
                self.y[v] = top + height / 2
            top += height + _GAP_Y
        self.height = top - _GAP_Y + _MARGIN
        self.width = max(x[v] + g.w[v] / 2 for v in range(len(x))) + _MARGIN + 90


def _fit(want: list[float], widths: list[float]) -> list[float]:
    """Positions closest to ``want`` (least squares) keeping order and spacing (PAV)."""
    offset = [0.0]
    for a, b in pairwise(widths):
        offset.append(offset[-1] + (a + b) / 2 + _GAP_X)
    blocks: list[list[float]] = []  # [sum, count]
    for value, off in zip(want, offset, strict=True):
        blocks.append([value - off, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    out: list[float] = []
    for s, c in blocks:
        out.extend([s / c] * int(c))
    return [v + off for v, off in zip(out, offset, strict=True)]


def _node_svg(lay: _Layout, v: int) -> str:
    g = lay.g
    kind, x, y, w, h = g.kind[v], lay.x[v], lay.y[v], g.w[v], g.h[v]
    fill, stroke, ink = _COLORS[kind]
    paint = f'fill="{fill}" stroke="{stroke}"'
    if kind == "router":
        shape = f'<polygon points="{x - w / 2:.1f},{y:.1f} {x:.1f},{y - h / 2:.1f} {x + w / 2:.1f},{y:.1f} {x:.1f},{y + h / 2:.1f}" {paint}/>'
    elif kind == "join":
        shape = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{w / 2:.1f}" {paint}/>'
    elif kind == "event":
        pts = [(x - w / 2, y - h / 2), (x + w / 2, y - h / 2), (x + w / 2, y + h / 2)]
        pts += [(x - w / 2, y + h / 2), (x - w / 2 + 12, y)]
        shape = f'<polygon points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}" {paint}/>'
    else:
        rx = h / 2 if kind == "start" else 7
        shape = f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rx}" {paint}/>'
    label = "&amp;" if kind == "join" else escape(g.label[v])
    dx = 6 if kind == "event" else 0
    return (
        f'<g class="node {kind}"><title>{escape(g.title[v])}</title>{shape}'
        f'<text x="{x + dx:.1f}" y="{y:.1f}" fill="{ink}">{label}</text></g>'
    )


def _edges_svg(lay: _Layout) -> list[str]:
    g, x, y = lay.g, lay.x, lay.y
    out: list[str] = []
    labels: list[str] = []
    for (src, dst, lab), path in lay.chain.items():
        pts = [(x[src], y[src] + g.h[src] / 2)]
        pts += [(x[d], y[d]) for d in path[1:-1]]
        pts.append((x[dst], y[dst] - g.h[dst] / 2))
        segs = [f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"]
        for (x0, y0), (x1, y1) in pairwise(pts):
            k = (y1 - y0) / 2
            segs.append(f"C{x0:.1f},{y0 + k:.1f} {x1:.1f},{y1 - k:.1f} {x1:.1f},{y1:.1f}")
        out.append(f'<path class="edge" d="{"".join(segs)}" marker-end="url(#arrow)"/>')
        if lab:  # the first segment's point at t=0.6: nearer its end, so labels spread out
            (x0, y0), (x1, y1) = pts[0], pts[1]
            labels.append(_edge_label(x0 + 0.648 * (x1 - x0), y0 + 0.576 * (y1 - y0), lab))
    right = [max(x[v] + g.w[v] / 2 for v in row) for row in lay.layers]
    for i, (src, dst, lab) in enumerate(lay.back):
        sx, sy = x[src] + g.w[src] / 2, y[src]
        tx, ty = x[dst] + g.w[dst] / 2, y[dst]
        if src == dst:  # a step that triggers itself: a small loop on its right
            d = f"M{sx:.1f},{sy - 7:.1f} C{sx + 44:.1f},{sy - 30:.1f} {sx + 44:.1f},{sy + 30:.1f} {sx:.1f},{sy + 7:.1f}"
            lx, ly = sx + 40, sy - 20
        else:  # out to the right of every node in between, up, and back in
            lo, hi = sorted((lay.layer[src], lay.layer[dst]))
            col = max(right[lo : hi + 1]) + 26 + 12 * (i % 4)
            r = min(10.0, abs(sy - ty) / 2)
            up = 1 if ty < sy else -1
            d = (
                f"M{sx:.1f},{sy:.1f}H{col - r:.1f}Q{col:.1f},{sy:.1f} {col:.1f},{sy - up * r:.1f}"
                f"V{ty + up * r:.1f}Q{col:.1f},{ty:.1f} {col - r:.1f},{ty:.1f}H{tx:.1f}"
            )
            lx, ly = col, sy - up * min(22.0, abs(sy - ty) / 3)
        out.append(f'<path class="edge back" d="{d}" marker-end="url(#arrow-back)"/>')
        if lab:  # near its source: the middle of a long loop is often busy
            labels.append(_edge_label(lx, ly, lab))
    return out + labels


def _edge_label(x: float, y: float, text: str) -> str:
    return f'<text class="edge-label" x="{x:.1f}" y="{y:.1f}">{escape(text)}</text>'


_MARKERS = "".join(
    f'<marker id="{mid}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
    f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{color}"/>'
    "</marker>"
    for mid, color in (("arrow", "#64748b"), ("arrow-back", "#d97706"))
)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#0f172a;background:#f8fafc}
header{padding:14px 24px 6px}h1{font-size:20px;margin:0}.meta{color:#475569;margin:2px 0 0}
.legend{display:flex;flex-wrap:wrap;gap:16px;align-items:center;padding:6px 24px;color:#334155}
.legend span{display:inline-flex;align-items:center;gap:6px}
.canvas{overflow:auto;background:#fff;border-top:1px solid #e2e8f0;border-bottom:1px solid #e2e8f0}
svg text{font:13px system-ui,-apple-system,'Segoe UI',sans-serif;text-anchor:middle;dominant-baseline:central}
.edge{fill:none;stroke:#64748b;stroke-width:1.4}.edge.back{stroke:#d97706;stroke-dasharray:6 4}
.edge-label{font-size:12px;fill:#92400e;paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}
.node rect,.node polygon,.node circle{stroke-width:1.5}.node:hover rect,.node:hover polygon,.node:hover circle{stroke-width:3}
.node.join text{font-size:12px;font-weight:600}.node.start text{font-weight:600}
details{padding:10px 24px 24px}pre{background:#f1f5f9;padding:12px;overflow:auto;font-size:12px}
"""


def _legend() -> str:
    fill = {k: f'fill="{f}" stroke="{s}" stroke-width="1.5"' for k, (f, s, _) in _COLORS.items()}
    back = 'class="edge back" marker-end="url(#arrow-back)"'
    items = [
        (f'<rect x="2" y="3" width="30" height="16" rx="8" {fill["start"]}/>', "start"),
        (f'<rect x="2" y="3" width="30" height="16" rx="4" {fill["step"]}/>', "step"),
        (f'<polygon points="2,11 17,2 32,11 17,20" {fill["router"]}/>', "router"),
        (f'<circle cx="17" cy="11" r="8" {fill["join"]}/>', "and_ join (all of)"),
        (f'<polygon points="2,3 32,3 32,19 2,19 8,11" {fill["event"]}/>', "event"),
        ('<path d="M2,11H32" class="edge" marker-end="url(#arrow)"/>', "triggers"),
        (f'<path d="M2,11H32" {back}/>', "loop"),
    ]
    spans = "".join(
        f'<span><svg width="34" height="22" viewBox="0 0 34 22">{shape}</svg>{text}</span>'
        for shape, text in items
    )
    return f'<div class="legend">{spans}</div>'


def html_page(plan: Plan) -> str:
    """The plan as one self-contained HTML page (inline SVG and CSS, nothing fetched)."""
    g = _build(plan)
    lay = _Layout(g)
    nodes = [_node_svg(lay, v) for v in range(len(g.kind)) if g.kind[v] != "dummy"]
    name = escape(plan.name)
    routers = sum(s.kind == "router" for s in plan.steps)
    joins = g.kind.count("join")
    counts = [(len(plan.steps), "step"), (routers, "router"), (joins, "and_ join")]
    counts.append((len(lay.back), "loop edge"))
    meta = " · ".join([escape(plan.kind)] + [f"{n} {w}{'' if n == 1 else 's'}" for n, w in counts])
    svg = (
        f'<svg width="{lay.width:.0f}" '
        f'height="{lay.height:.0f}" viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" '
        f'role="img" aria-label="plan {name}">'
        + "".join(_edges_svg(lay))
        + "".join(nodes)
        + "</svg>"
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{name} · plait plan</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{name}</h1><p class="meta">{meta}</p></header>'
        f'<svg width="0" height="0" style="position:absolute"><defs>{_MARKERS}</defs></svg>'
        f'{_legend()}<div class="canvas">{svg}</div>'
        "<details><summary>Mermaid source</summary>"
        f"<pre>{escape(mermaid(plan))}</pre></details></body></html>\n"
    )
