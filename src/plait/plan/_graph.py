"""The plan as a graph: which steps produce each trigger leaf, the edges between steps,
labels heard and returned, and cycles (Tarjan). Shared by the checks and the diagram;
linear in the size of the graph."""

from __future__ import annotations

from collections import defaultdict

from plait.define import Leaf, leaves
from plait.plan._model import PlanStep


def producers_of(steps: list[PlanStep]) -> dict[tuple[str, str], list[str]]:
    """Which steps can produce each leaf: ``("step", s)`` and ``("label", l)``."""
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in steps:
        out[("step", s.name)].append(s.name)
        for label in s.labels or ():
            out[("label", label)].append(s.name)
    return out


def heard_on(step: PlanStep, leaf: Leaf) -> tuple[tuple[str, str], ...]:
    """What makes ``leaf`` of ``step``'s trigger happen, as the runtime hears it: step
    names and router labels share one namespace (CrewAI), and a conditional start hears a
    step's name only as a router label."""
    if leaf.kind != "step":
        return ((leaf.kind, leaf.name),)
    if step.start:
        return (("label", leaf.name),)
    return (("step", leaf.name), ("label", leaf.name))


def leaf_sources(
    step: PlanStep,
    leaf: Leaf,
    prod: dict[tuple[str, str], list[str]],
    open_routers: list[str],
) -> list[tuple[str, str]]:
    """(producer step, label or "") pairs whose completion or label makes ``leaf`` of
    ``step`` happen; events are left to the caller."""
    out: list[tuple[str, str]] = []
    for kind, name in heard_on(step, leaf):
        if kind == "step":
            out.append((name, ""))
        elif kind == "label":
            out.extend((router, name) for router in prod.get(("label", name), ()))
    if not out and (leaf.kind == "label" or (leaf.kind == "step" and step.start)):
        return [(router, leaf.name) for router in open_routers]  # it may return that
    return out


def edges_of(steps: list[PlanStep]) -> dict[str, set[str]]:
    """producer step -> steps whose trigger it can advance."""
    prod = producers_of(steps)
    open_routers = [s.name for s in steps if s.kind == "router" and s.labels is None]
    edges: dict[str, set[str]] = {s.name: set() for s in steps}
    for s in steps:
        if s.trigger is None:
            continue
        for leaf in leaves(s.trigger):
            for src, _ in leaf_sources(s, leaf, prod, open_routers):
                if src in edges:
                    edges[src].add(s.name)
    return edges


def kickoff_steps(steps: list[PlanStep]) -> list[str]:
    """What runs when a run begins: the start steps without a condition, or, when every
    start step has one, all of them (CrewAI)."""
    plain = [s.name for s in steps if s.start and s.trigger is None]
    return plain or [s.name for s in steps if s.start]


def label_owners(steps: list[PlanStep]) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = defaultdict(list)
    for s in steps:
        for label in s.labels or ():
            owners[label].append(s.name)
    return owners


def labels_listened(steps: list[PlanStep]) -> set[str]:
    """Names heard only as a label: label leaves, and the step names in conditional
    starts (what a router with unknown labels may be returning)."""
    return {
        leaf.name
        for s in steps
        if s.trigger is not None
        for leaf in leaves(s.trigger)
        if leaf.kind == "label" or (leaf.kind == "step" and s.start)
    }


def labels_heard(steps: list[PlanStep]) -> set[str]:
    """Every label some step hears: label leaves, and step names (one namespace)."""
    return {
        key[1]
        for s in steps
        if s.trigger is not None
        for leaf in leaves(s.trigger)
        for key in heard_on(s, leaf)
        if key[0] == "label"
    }


def edges_for_label(steps: list[PlanStep], label: str) -> set[str]:
    """Steps that hear ``label`` (label leaves, and steps of that name: one namespace)."""
    key = ("label", label)
    return {
        s.name
        for s in steps
        if s.trigger is not None and any(key in heard_on(s, leaf) for leaf in leaves(s.trigger))
    }


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; returns components with a cycle (size > 1 or a
    self-loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(edges.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1 or node in edges.get(node, ()):
                    out.append(comp)
    return out


def descendants(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    work = list(edges.get(start, ()))
    while work:
        node = work.pop()
        if node not in seen:
            seen.add(node)
            work.extend(edges.get(node, ()))
    return seen
