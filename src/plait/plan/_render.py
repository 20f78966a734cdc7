"""Render a plan: Mermaid flowchart text, or a standalone HTML page."""

from __future__ import annotations

import re

from plait.core import PlaitError
from plait.define import AnyOf, Condition, Leaf
from plait.plan._graph import producers_of
from plait.plan._model import Plan

_SAFE = re.compile(r"[^A-Za-z0-9_]")


def _node_id(name: str) -> str:
    return "s_" + _SAFE.sub("_", name)


def mermaid(plan: Plan) -> str:
    """A Mermaid ``flowchart TD``: steps as boxes, routers as diamonds, joins as circles."""
    lines = ["flowchart TD", "  __start__([start])"]
    for s in plan.steps:
        nid = _node_id(s.name)
        label = s.name.replace('"', "'")
        lines.append(f'  {nid}{{"{label}"}}' if s.kind == "router" else f'  {nid}["{label}"]')
    prod = producers_of(list(plan.steps))
    joins = 0
    events: set[str] = set()

    def sources(cond: Condition) -> list[tuple[str, str]]:
        """(source node id, edge label) pairs feeding ``cond``."""
        nonlocal joins
        if isinstance(cond, Leaf):
            if cond.kind == "step":
                return [(_node_id(cond.name), "")]
            if cond.kind == "label":
                owners = prod.get(("label", cond.name)) or [
                    s.name for s in plan.steps if s.kind == "router" and s.labels is None
                ]
                return [(_node_id(o), cond.name) for o in owners]
            eid = "e_" + _SAFE.sub("_", cond.name)
            if eid not in events:
                events.add(eid)
                lines.append(f"  {eid}>event {cond.name}]")
            return [(eid, "")]
        if isinstance(cond, AnyOf):
            return [src for child in cond.children for src in sources(child)]
        joins += 1
        jid = f"j_{joins}"
        lines.append(f"  {jid}((and))")
        for child in cond.children:
            for src, lab in sources(child):
                lines.append(f"  {src} -->|{lab}| {jid}" if lab else f"  {src} --> {jid}")
        return [(jid, "")]

    for s in plan.steps:
        nid = _node_id(s.name)
        if s.start:
            lines.append(f"  __start__ --> {nid}")
        if s.trigger is not None:
            for src, lab in sources(s.trigger):
                lines.append(f"  {src} -->|{lab}| {nid}" if lab else f"  {src} --> {nid}")
    return "\n".join(lines) + "\n"


def render(plan: Plan, fmt: str) -> str:
    """``fmt``: ``"mermaid"`` or ``"html"``."""
    if fmt == "mermaid":
        return mermaid(plan)
    if fmt == "html":
        from plait.plan._html import html_page

        return html_page(plan)
    raise PlaitError(f"unknown plot format {fmt!r}: use 'mermaid' or 'html'")
