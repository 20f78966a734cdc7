"""Whole-graph checks: reachability, and_ joins that never fire, cycles without an exit,
parallel writes that need a reducer. Linear in the size of the graph.

For flows these are warnings (``check_graph``): CrewAI runs such flows, and so does
plait. For task graphs a dependency cycle is an error (``check_dag``): nothing could run."""

from __future__ import annotations

from collections import defaultdict

from plait.define import AllOf, AnyOf, Condition, Leaf, leaves
from plait.plan._graph import (
    edges_for_label,
    edges_of,
    heard_on,
    kickoff_steps,
    label_owners,
    labels_heard,
    labels_listened,
    strongly_connected,
)
from plait.plan._model import PlanStep
from plait.plan._parallel import (
    check_exclusive_joins,
    check_parallel_writes,
    gates_of,
    runs_once,
)


def check_graph(
    steps: list[PlanStep],
    writes_of: dict[str, tuple[str, ...]],
    reducer_keys: set[str],
    warnings: list[str],
    broken: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    """Append a readable line to ``warnings`` for each graph-level problem of a flow.

    None of these stops a flow from running (CrewAI runs such flows too): a label nobody
    hears ends its branch, a step nothing triggers never runs, a loop without an exit
    stops at the call limit. Steps in ``broken`` already have a reported problem and are
    not reported as unreachable."""
    order = {s.name: i for i, s in enumerate(steps)}
    by_name = {s.name: s for s in steps}
    if not any(s.start for s in steps):
        warnings.append(
            "it has no start step, so a run does nothing: mark at least one step with @start()"
        )
        return
    edges = edges_of(steps)
    cycles = strongly_connected(edges)
    in_cycle = {name for comp in cycles for name in comp}
    for comp in cycles:
        members = sorted(comp, key=order.__getitem__)
        shown = " → ".join([*members, members[0]])
        routers = [by_name[m] for m in members if by_name[m].kind == "router"]
        if not routers:
            warnings.append(
                f"steps {shown} form a cycle with no router to leave it, so it runs until a "
                "step reaches its call limit; make one of them a @router that returns a "
                "label outside the loop"
            )
            continue
        inside = set(members)
        if all(r.labels is not None for r in routers) and not any(
            not (edges_for_label(steps, label) & inside)
            for r in routers
            for label in r.labels or ()
        ):
            warnings.append(
                f"steps {shown} form a loop that can never end: every label of its router(s) "
                "leads back into the loop, so it runs until a step reaches its call limit; "
                "add a label that leads out"
            )
    heard = labels_heard(steps)
    for s in steps:
        for label in s.labels or ():
            if label not in heard:
                warnings.append(
                    f"router {s.name!r} can return {label!r}, but no step listens to it, so "
                    f"that branch ends there; add @listen({label!r}) to a step to go on"
                )
    reported = set(broken)
    owners = label_owners(steps)
    for s in steps:
        if not s.start or s.trigger is None:
            continue
        for leaf in leaves(s.trigger):
            if leaf.kind == "step" and not owners.get(leaf.name):
                warnings.append(
                    f"start step {s.name!r} waits for {leaf.name!r}, a step, but a "
                    "conditional start hears only router labels (as in CrewAI): it does not "
                    f"run when {leaf.name!r} completes; use @listen({leaf.name}) for that"
                )
                reported.add(s.name)
                break
    reachable = _reachable(steps)
    for s in steps:
        if s.name in reachable or s.trigger is None or s.name in reported:
            continue
        if isinstance(s.trigger, AllOf):
            warnings.append(
                f"step {s.name!r} waits for {s.trigger.describe()}, which can never fire: "
                "not all of those can run in one run"
            )
        else:
            warnings.append(
                f"step {s.name!r} can never run: no start step leads to {s.trigger.describe()}"
            )
    once = runs_once(steps, in_cycle)
    check_exclusive_joins(steps, once, warnings)
    check_parallel_writes(steps, edges, writes_of, reducer_keys, warnings, gates_of(steps, once))


def check_dag(
    steps: list[PlanStep],
    writes_of: dict[str, tuple[str, ...]],
    reducer_keys: set[str],
    problems: list[str],
) -> None:
    """Checks for a task graph (``depends_on`` only): one Kahn pass finds any cycle."""
    indegree: dict[str, int] = {}
    children: dict[str, list[str]] = {s.name: [] for s in steps}
    for s in steps:
        deps = [d for d in s.depends_on if d in children]
        indegree[s.name] = len(deps)
        for dep in deps:
            children[dep].append(s.name)
    queue = [name for name, n in indegree.items() if n == 0]
    for name in queue:  # the list grows while we walk it
        for child in children[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    if len(queue) < len(steps):
        by_name = {s.name: s for s in steps}
        stuck = {name for name, n in indegree.items() if n > 0}
        node = next(iter(sorted(stuck)))
        path: list[str] = []
        while node not in path:
            path.append(node)
            node = next(d for d in by_name[node].depends_on if d in stuck)
        cycle = path[path.index(node) :]
        shown = " → ".join([*reversed(cycle), cycle[-1]])
        problems.append(f"dependency cycle: {shown}; remove one of these dependencies")
    if any(writes_of.values()):
        check_parallel_writes(steps, edges_of(steps), writes_of, reducer_keys, problems, {})


def _holds(step: PlanStep, cond: Condition, reached: set[tuple[str, str]]) -> bool:
    if isinstance(cond, Leaf):
        if cond.kind == "event":
            return True  # some step may emit it
        return any(key in reached for key in heard_on(step, cond))
    if isinstance(cond, AnyOf):
        return any(_holds(step, c, reached) for c in cond.children)
    return all(_holds(step, c, reached) for c in cond.children)


def _reachable(steps: list[PlanStep]) -> set[str]:
    by_name = {s.name: s for s in steps}
    watchers: dict[tuple[str, str], list[str]] = defaultdict(list)
    has_event = []
    for s in steps:
        if s.trigger is None:
            continue
        for leaf in leaves(s.trigger):
            for key in heard_on(s, leaf):
                watchers[key].append(s.name)
            if leaf.kind == "event":
                has_event.append(s.name)
    open_labels = labels_listened(steps)
    reached_leaves: set[tuple[str, str]] = set()
    done: set[str] = set()
    work = kickoff_steps(steps)
    while work:
        name = work.pop()
        if name in done:
            continue
        done.add(name)
        step = by_name[name]
        new = [("step", name)]
        if step.kind == "router":
            labels = open_labels if step.labels is None else step.labels
            new.extend(("label", lab) for lab in labels)
        candidates: list[str] = list(has_event) if len(done) == 1 else []
        for key in new:
            if key not in reached_leaves:
                reached_leaves.add(key)
                candidates.extend(watchers.get(key, ()))
        for cand in candidates:
            c = by_name[cand]
            if cand not in done and c.trigger is not None and _holds(c, c.trigger, reached_leaves):
                work.append(cand)
    return done
