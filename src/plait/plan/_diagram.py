"""A plan as a graph to draw: what the Mermaid text and the HTML page show.

Nodes: the start, steps, routers, ``and_``/``or_`` joins, events. Edges: triggers (with
the router label that fires them), emits (from a step to each event its plan step lists
in ``emits``), and loops — edges that lead back to a node already on the way from the
start, found by one depth-first search. Linear in the size of the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from plait.define import AnyOf, Condition, Leaf
from plait.plan._graph import kickoff_steps, leaf_sources, producers_of
from plait.plan._model import Plan, PlanStep

NodeKind = Literal["start", "step", "router", "and", "or", "event"]

START = "__start__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    kind: NodeKind
    label: str
    title: str = ""
    """What hovering the node shows: its kind, trigger, labels, policies."""


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    label: str = ""
    emit: bool = False
    loop: bool = False


@dataclass(frozen=True, slots=True)
class Diagram:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


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


class _Builder:
    def __init__(self, plan: Plan) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: dict[tuple[str, str, str, bool], None] = {}
        self.joins = 0
        steps = list(plan.steps)
        self.prod = producers_of(steps)
        self.open_routers = [s.name for s in steps if s.kind == "router" and s.labels is None]
        self.add(START, "start", "start", "what runs when a run begins")
        self.step_ids = {
            s.name: self.add(self.fresh("s_", s.name), s.kind, s.name, _step_title(s))
            for s in steps
        }
        self.events: dict[str, str] = {}

    def fresh(self, prefix: str, name: str) -> str:
        """A Mermaid-safe id, unique even when two names differ only in odd characters."""
        base = prefix + _UNSAFE.sub("_", name)
        nid, n = base, 1
        while nid in self.nodes:
            n += 1
            nid = f"{base}_{n}"
        return nid

    def add(self, nid: str, kind: NodeKind, label: str, title: str = "") -> str:
        self.nodes[nid] = Node(nid, kind, label, title or label)
        return nid

    def event(self, name: str) -> str:
        if name not in self.events:
            nid = self.fresh("e_", name)
            self.events[name] = self.add(nid, "event", f"event {name}", f"emit({name!r})")
        return self.events[name]

    def sources(self, cond: Condition, owner: PlanStep) -> list[tuple[str, str]]:
        """(node id, edge label) pairs feeding ``cond`` of ``owner``."""
        if isinstance(cond, Leaf):
            if cond.kind == "event":
                return [(self.event(cond.name), "")]
            found = leaf_sources(owner, cond, self.prod, self.open_routers)
            return [(self.step_ids[src], lab) for src, lab in found if src in self.step_ids]
        parts = [src for child in cond.children for src in self.sources(child, owner)]
        if len(cond.children) == 1 or len(parts) < 2:  # and_(x) / or_(x) is just x
            return parts
        kind: NodeKind = "or" if isinstance(cond, AnyOf) else "and"
        self.joins += 1
        join = self.add(f"j_{self.joins}", kind, kind, f"{kind}_: {cond.describe()}")
        for src, lab in parts:
            self.edges[(src, join, lab, False)] = None
        return [(join, "")]


def diagram(plan: Plan) -> Diagram:
    """The nodes and edges of ``plan``'s drawing, loops marked."""
    b = _Builder(plan)
    kickoff = set(kickoff_steps(list(plan.steps)))
    for s in plan.steps:
        nid = b.step_ids[s.name]
        if s.name in kickoff:
            b.edges[(START, nid, "", False)] = None
        if s.trigger is not None:
            for src, lab in b.sources(s.trigger, s):
                b.edges[(src, nid, lab, False)] = None
    for s in plan.steps:
        for name in s.emits:
            b.edges[(b.step_ids[s.name], b.event(name), "emits", True)] = None
    loops = _back_edges(list(b.nodes), list(b.edges))
    edges = tuple(
        Edge(src, dst, lab, emit, (src, dst, lab, emit) in loops) for src, dst, lab, emit in b.edges
    )
    return Diagram(tuple(b.nodes.values()), edges)


def _back_edges(
    nodes: list[str], edges: list[tuple[str, str, str, bool]]
) -> set[tuple[str, str, str, bool]]:
    """Edges into a node on the depth-first stack, searching from the start first."""
    out: dict[str, list[tuple[str, str, str, bool]]] = {n: [] for n in nodes}
    for e in edges:
        out[e[0]].append(e)
    state = dict.fromkeys(nodes, 0)  # 0 new, 1 on the stack, 2 done
    back: set[tuple[str, str, str, bool]] = set()
    for root in nodes:  # the start comes first
        if state[root]:
            continue
        state[root] = 1
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
                back.add(e)
            elif state[e[1]] == 0:
                state[e[1]] = 1
                stack.append((e[1], 0))
    return back
