"""Render a plan: Mermaid flowchart text, or a standalone HTML page (drawn from it)."""

from __future__ import annotations

import re

from plait.core import PlaitError
from plait.plan._diagram import Diagram, Node, diagram
from plait.plan._model import Plan

# fill, stroke, text colour per node kind; loops and emits are coloured links
COLORS = {
    "start": ("#1e293b", "#1e293b", "#ffffff"),
    "step": ("#eef2ff", "#4f46e5", "#1e1b4b"),
    "router": ("#fef3c7", "#d97706", "#451a03"),
    "and": ("#ccfbf1", "#0f766e", "#134e4a"),
    "or": ("#e0f2fe", "#0369a1", "#0c4a6e"),
    "event": ("#ecfeff", "#0891b2", "#164e63"),
}
LOOP_COLOR, EMIT_COLOR = "#d97706", "#0891b2"
_SHAPES = {
    "start": "([{}])",
    "step": "[{}]",
    "router": "{{{}}}",
    "and": "(({}))",
    "or": "(({}))",
    "event": ">{}]",
}
# characters Mermaid would read as syntax or markup, as its entity codes (``#quot;``)
_ESCAPES = str.maketrans(
    {c: f"#{ord(c)};" for c in "#<>&`"} | {'"': "#quot;", "\n": " ", "\r": " "}
)

_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


def _text(label: str) -> str:
    return '"' + label.translate(_ESCAPES) + '"'


def _edge_text(label: str) -> str:
    return label if _PLAIN.fullmatch(label) else _text(label)


def _node_line(node: Node) -> str:
    return f"  {node.id}" + _SHAPES[node.kind].format(_text(node.label))


def mermaid_text(d: Diagram) -> str:
    """``d`` as a Mermaid ``flowchart TD``, its node kinds as classes and its loops
    (dashed, orange) and emits (dotted, cyan) as link styles."""
    lines = ["flowchart TD", *(_node_line(n) for n in d.nodes)]
    for e in d.edges:
        arrow = "-.->" if e.emit else "-->"
        label = f"|{_edge_text(e.label)}|" if e.label else ""
        lines.append(f"  {e.source} {arrow}{label} {e.target}")
    for kind, (fill, stroke, ink) in COLORS.items():
        if any(n.kind == kind for n in d.nodes):
            lines.append(f"  classDef {kind} fill:{fill},stroke:{stroke},color:{ink}")
            ids = ",".join(n.id for n in d.nodes if n.kind == kind)
            lines.append(f"  class {ids} {kind}")
    loops = [str(i) for i, e in enumerate(d.edges) if e.loop]
    if loops:
        lines.append(f"  linkStyle {','.join(loops)} stroke:{LOOP_COLOR},stroke-dasharray:6 4")
    emits = [str(i) for i, e in enumerate(d.edges) if e.emit and not e.loop]
    if emits:
        lines.append(f"  linkStyle {','.join(emits)} stroke:{EMIT_COLOR}")
    return "\n".join(lines) + "\n"


def mermaid(plan: Plan) -> str:
    """A Mermaid ``flowchart TD``: steps as boxes, routers as diamonds, joins as circles,
    events as flags; router labels on their edges, loops dashed, emits dotted."""
    return mermaid_text(diagram(plan))


def render(plan: Plan, fmt: str) -> str:
    """``fmt``: ``"mermaid"`` or ``"html"``."""
    if fmt == "mermaid":
        return mermaid(plan)
    if fmt == "html":
        from plait.plan._html import html_page

        return html_page(plan)
    raise PlaitError(f"unknown plot format {fmt!r}: use 'mermaid' or 'html'")
