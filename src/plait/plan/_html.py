"""A standalone HTML page for a plan, drawn in the browser by Mermaid with its ELK layout.

The page carries the plan's Mermaid text (``_render.mermaid_text``) and a vendored copy
of ``mermaid.min.js`` (``_vendor/mermaid``, MIT; see its ``README.md`` for the version
and the licenses of what it bundles), inlined so that the file works offline and fetches
nothing. ELK's layered layout routes every edge, loops included, around the boxes it does
not join, and places router labels on their edges. Its time grows quickly with very wide
layers, so a plan of more than ``ELK_MAX_EDGES`` edges is laid out by Mermaid's dagre
instead (seconds for thousands of edges).
"""

from __future__ import annotations

import json
from functools import lru_cache
from html import escape
from importlib.resources import files

from plait.plan._diagram import diagram
from plait.plan._model import Plan
from plait.plan._render import COLORS, EMIT_COLOR, LOOP_COLOR, mermaid_text


@lru_cache(maxsize=1)
def mermaid_js() -> str:
    """The vendored Mermaid bundle, safe to inline in a ``<script>`` element."""
    js = (files("plait.plan") / "_vendor" / "mermaid" / "mermaid.min.js").read_text("utf-8")
    return js.replace("</script", "<\\/script")


def _json_script(value: object) -> str:
    """JSON that cannot close the ``<script>`` element it sits in."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#0f172a;background:#f8fafc}
header{padding:14px 24px 6px}h1{font-size:20px;margin:0}.meta{color:#475569;margin:2px 0 0}
.legend{display:flex;flex-wrap:wrap;gap:16px;align-items:center;padding:6px 24px;color:#334155}
.legend span{display:inline-flex;align-items:center;gap:6px}
.canvas{overflow:auto;background:#fff;border-top:1px solid #e2e8f0;border-bottom:1px solid #e2e8f0;padding:16px}
.canvas svg{max-width:none!important;height:auto}.canvas .error{color:#b91c1c;white-space:pre-wrap}
details{padding:10px 24px 24px}pre{background:#f1f5f9;padding:12px;overflow:auto;font-size:12px}
"""

ELK_MAX_EDGES = 1000

# ELK's layered layout; labels as SVG text, so the drawing measures and prints the same
_CONFIG = {
    "startOnLoad": False,
    "securityLevel": "strict",
    "theme": "base",
    "themeVariables": {"edgeLabelBackground": "#ffffff", "lineColor": "#475569"},
    "layout": "elk",
    "look": "classic",
    "htmlLabels": False,
    "maxTextSize": 50_000_000,
    "maxEdges": 1_000_000,
    "fontFamily": "system-ui,-apple-system,'Segoe UI',sans-serif",
    "flowchart": {"htmlLabels": False, "useMaxWidth": False, "wrappingWidth": 400},
}

_DRAW = """
(async () => {
  const read = (id) => document.getElementById(id).textContent;
  const canvas = document.getElementById('plait-canvas');
  const titles = JSON.parse(read('plait-titles'));
  try {
    mermaid.initialize(JSON.parse(read('plait-config')));
    const { svg } = await mermaid.render('plait-plan', read('plait-source'));
    canvas.innerHTML = svg;
    // Mermaid leaves its entity codes (#quot; #60;) in SVG text labels as placeholders or
    // as character references; labels hold only escaped user text, so decode them once
    const entity = (code) => {
      const box = document.createElement('textarea');
      box.innerHTML = '&' + code + ';';
      return box.value;
    };
    const texts = document.createTreeWalker(canvas, NodeFilter.SHOW_TEXT);
    for (let t = texts.nextNode(); t; t = texts.nextNode()) {
      if (t.parentNode.nodeName.toLowerCase() === 'style') continue;
      t.nodeValue = t.nodeValue.replace(/\\uFB02\\xB0\\xB0/g, '&#').replace(/\\uFB02\\xB0/g, '&')
        .replace(/\\xB6\\xDF/g, ';').replace(/&(#?\\w+);/g, (_, code) => entity(code));
    }
    for (const g of canvas.querySelectorAll('g.node')) {
      const id = g.dataset.id || (g.id.match(/^plait-plan-flowchart-(.+)-\\d+$/) || [])[1];
      if (id && titles[id]) {
        const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
        title.textContent = titles[id];
        g.prepend(title);
      }
    }
    document.body.dataset.drawn = 'yes';
  } catch (error) {
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = 'The plan could not be drawn: ' + error + '\\nIts Mermaid text is below.';
    canvas.replaceChildren(p);
    document.body.dataset.drawn = 'error';
  }
})();
"""


def _legend() -> str:
    def paint(kind: str) -> str:
        fill, stroke, _ = COLORS[kind]
        return f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"'

    def line(color: str, dash: str) -> str:
        return (
            f'<path d="M2,11H26" stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}"/>'
            f'<path d="M24,6L32,11L24,16z" fill="{color}"/>'
        )

    items = [
        (f'<rect x="2" y="3" width="30" height="16" rx="8" {paint("start")}/>', "start"),
        (f'<rect x="2" y="3" width="30" height="16" {paint("step")}/>', "step"),
        (
            f'<polygon points="2,11 17,2 32,11 17,20" {paint("router")}/>',
            "router (label on its edges)",
        ),
        (f'<circle cx="17" cy="11" r="8" {paint("and")}/>', "and_ join (all of)"),
        (f'<circle cx="17" cy="11" r="8" {paint("or")}/>', "or_ join (any of)"),
        (f'<polygon points="2,3 32,3 32,19 2,19 8,11" {paint("event")}/>', "event"),
        (line("#333333", "none"), "triggers"),
        (line(LOOP_COLOR, "6 4"), "loop"),
        (line(EMIT_COLOR, "3 3"), "emits"),
    ]
    spans = "".join(
        f'<span><svg width="34" height="22" viewBox="0 0 34 22" aria-hidden="true">{shape}</svg>'
        f"{text}</span>"
        for shape, text in items
    )
    return f'<div class="legend">{spans}</div>'


def _meta(plan: Plan, kinds: list[str], loops: int) -> str:
    counts = [
        (len(plan.steps), "step"),
        (kinds.count("router"), "router"),
        (kinds.count("and") + kinds.count("or"), "join"),
        (kinds.count("event"), "event"),
        (loops, "loop edge"),
    ]
    shown = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts if n or word == "step"]
    return " · ".join([escape(plan.kind), *shown])


def html_page(plan: Plan) -> str:
    """The plan as one self-contained HTML page: Mermaid inlined, nothing fetched."""
    d = diagram(plan)
    source = mermaid_text(d)
    titles = {n.id: n.title for n in d.nodes}
    config = _CONFIG if len(d.edges) <= ELK_MAX_EDGES else {**_CONFIG, "layout": "dagre"}
    name = escape(plan.name)
    meta = _meta(plan, [n.kind for n in d.nodes], sum(e.loop for e in d.edges))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{name} · plait plan</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{name}</h1><p class="meta">{meta}</p></header>{_legend()}'
        f'<div class="canvas" id="plait-canvas" role="img" aria-label="plan {name}"></div>'
        "<details><summary>Mermaid source</summary>"
        f'<pre id="plait-source">{escape(source)}</pre></details>'
        f'<script type="application/json" id="plait-titles">{_json_script(titles)}</script>'
        f'<script type="application/json" id="plait-config">{_json_script(config)}</script>'
        f"<script>{mermaid_js()}</script><script>{_DRAW}</script></body></html>\n"
    )
