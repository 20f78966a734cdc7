"""Render a plan: Mermaid flowchart text, or a standalone HTML page."""

from __future__ import annotations

import re

from plait.core import PlaitError
from plait.define import AnyOf, Condition, Leaf
from plait.plan._graph import kickoff_steps, leaf_sources, producers_of
from plait.plan._model import Plan, PlanStep

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
    steps = list(plan.steps)
    prod = producers_of(steps)
    open_routers = [s.name for s in steps if s.kind == "router" and s.labels is None]
    kickoff = set(kickoff_steps(steps))
    joins = 0
    events: set[str] = set()

    def sources(cond: Condition, owner: PlanStep) -> list[tuple[str, str]]:
        """(source node id, edge label) pairs feeding ``cond`` of ``owner``."""
        nonlocal joins
        if isinstance(cond, Leaf):
            if cond.kind != "event":
                found = leaf_sources(owner, cond, prod, open_routers)
                return [(_node_id(src), lab) for src, lab in found]
            eid = "e_" + _SAFE.sub("_", cond.name)
            if eid not in events:
                events.add(eid)
                lines.append(f"  {eid}>event {cond.name}]")
            return [(eid, "")]
        if isinstance(cond, AnyOf):
            return [src for child in cond.children for src in sources(child, owner)]
        joins += 1
        jid = f"j_{joins}"
        lines.append(f"  {jid}((and))")
        for child in cond.children:
            for src, lab in sources(child, owner):
                lines.append(f"  {src} -->|{lab}| {jid}" if lab else f"  {src} --> {jid}")
        return [(jid, "")]

    for s in plan.steps:
        nid = _node_id(s.name)
        if s.name in kickoff:
            lines.append(f"  __start__ --> {nid}")
        if s.trigger is not None:
            for src, lab in sources(s.trigger, s):
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
