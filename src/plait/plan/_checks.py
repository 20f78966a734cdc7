"""Whole-graph checks: reachability, and_ joins that never fire, cycles without an exit,
parallel writes that need a reducer. Linear in the size of the graph.

For flows these are warnings (``check_graph``): CrewAI runs such flows, and so does
plait. For task graphs a dependency cycle is an error (``check_dag``): nothing could run."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from plait.define import AllOf, AnyOf, Condition, Leaf, leaves
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
    open_labels = _labels_listened(steps)
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


def _labels_listened(steps: list[PlanStep]) -> set[str]:
    """Names heard only as a label: label leaves, and the step names in conditional
    starts (what a router with unknown labels may be returning)."""
    return {
        leaf.name
        for s in steps
        if s.trigger is not None
        for leaf in leaves(s.trigger)
        if leaf.kind == "label" or (leaf.kind == "step" and s.start)
    }


def _labels_heard(steps: list[PlanStep]) -> set[str]:
    """Every label some step hears: label leaves, and step names (one namespace)."""
    return {
        key[1]
        for s in steps
        if s.trigger is not None
        for leaf in leaves(s.trigger)
        for key in heard_on(s, leaf)
        if key[0] == "label"
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
    heard = _labels_heard(steps)
    for s in steps:
        for label in s.labels or ():
            if label not in heard:
                warnings.append(
                    f"router {s.name!r} can return {label!r}, but no step listens to it, so "
                    f"that branch ends there; add @listen({label!r}) to a step to go on"
                )
    reported = set(broken)
    label_owners = _label_owners(steps)
    for s in steps:
        if not s.start or s.trigger is None:
            continue
        for leaf in leaves(s.trigger):
            if leaf.kind == "step" and not label_owners.get(leaf.name):
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
    _check_exclusive_joins(steps, once, warnings)
    _check_parallel_writes(steps, edges, writes_of, reducer_keys, warnings, _gates(steps, once))


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
        _check_parallel_writes(steps, edges_of(steps), writes_of, reducer_keys, problems, {})


def edges_for_label(steps: list[PlanStep], label: str) -> set[str]:
    """Steps that hear ``label`` (label leaves, and steps of that name: one namespace)."""
    key = ("label", label)
    return {
        s.name
        for s in steps
        if s.trigger is not None and any(key in heard_on(s, leaf) for leaf in leaves(s.trigger))
    }


def _label_owners(steps: list[PlanStep]) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = defaultdict(list)
    for s in steps:
        for label in s.labels or ():
            owners[label].append(s.name)
    return owners


def runs_once(steps: list[PlanStep], in_cycle: set[str]) -> dict[str, bool]:
    """Step -> whether it runs at most once per run.

    A start step without a trigger runs once; one with a trigger may run again. A step
    in a cycle, or fired by ``or_`` or an event, may run many times. A step fired by a
    step, or by a label of its only router, runs as often as that; one fired by ``and_``
    runs once when every part does. Iterative: long chains need no deep recursion.
    """
    by_name = {s.name: s for s in steps}
    owners = _label_owners(steps)

    def needs(cond: Condition) -> list[str] | None:
        """Steps that must all run once for ``cond`` to fire once (None: it may fire
        more often)."""
        if isinstance(cond, Leaf):
            if cond.kind == "step":
                return None if owners.get(cond.name) else [cond.name]
            if cond.kind == "label" and len(owners.get(cond.name, ())) == 1:
                return [owners[cond.name][0]]
            return None  # an event, or a label of several (or undeclared) routers
        if isinstance(cond, AnyOf):
            return needs(cond.children[0]) if len(cond.children) == 1 else None
        out: list[str] = []
        for child in cond.children:
            part = needs(child)
            if part is None:
                return None
            out.extend(part)
        return out

    def depends(name: str) -> list[str] | None:
        step = by_name.get(name)
        if step is None or name in in_cycle:
            return None
        if step.trigger is None:
            return []  # a plain start step
        if step.start:
            return None  # runs at the start, and again when its trigger fires
        return needs(step.trigger)

    once: dict[str, bool] = {}
    for s in steps:
        stack = [s.name]
        entered: set[str] = set()
        while stack:
            name = stack[-1]
            if name in once:
                stack.pop()
                continue
            deps = depends(name)
            if deps is None:
                once[name] = False
                stack.pop()
                continue
            pending = [d for d in deps if d not in once]
            if not pending:
                once[name] = all(once[d] for d in deps)
                stack.pop()
            elif any(d in entered for d in pending):  # a loop the cycle check missed
                once[name] = False
                stack.pop()
            else:
                entered.add(name)
                stack.extend(pending)
    return once


def _check_exclusive_joins(
    steps: list[PlanStep], once: dict[str, bool], problems: list[str]
) -> None:
    """and_ of two labels of one router that runs at most once can never fire."""
    label_owner = _label_owners(steps)
    for s in steps:
        if not isinstance(s.trigger, AllOf):
            continue
        seen: dict[str, str] = {}
        for child in s.trigger.children:
            if not (isinstance(child, Leaf) and child.kind == "label"):
                continue
            owners = label_owner.get(child.name, [])
            if len(owners) != 1 or not once.get(owners[0], False):
                continue
            owner = owners[0]
            if owner in seen and seen[owner] != child.name:
                problems.append(
                    f"step {s.name!r} waits for {s.trigger.describe()}, which can never "
                    f"fire: router {owner!r} returns one label per run, so {seen[owner]!r} "
                    f"and {child.name!r} never both happen; use or_()"
                )
                break
            seen[owner] = child.name


def _gates(steps: list[PlanStep], once: dict[str, bool]) -> dict[str, tuple[str, str]]:
    """Step -> (router, label) that every run reaching it goes through, for routers that
    run at most once (see :func:`runs_once`). Followed through chains of single-step
    listeners."""
    owner = _label_owners(steps)
    by_name = {s.name: s for s in steps}
    gates: dict[str, tuple[str, str]] = {}
    for s in steps:
        chain: list[str] = []
        node: PlanStep | None = s
        gate: tuple[str, str] | None = None
        while node is not None and not node.start and node.name not in chain:
            if node.name in gates:
                gate = gates[node.name]
                break
            chain.append(node.name)
            trig = node.trigger
            node = None
            if isinstance(trig, Leaf) and trig.kind == "label":
                routers = owner.get(trig.name, [])
                if len(routers) == 1 and once.get(routers[0], False):
                    gate = (routers[0], trig.name)
            elif isinstance(trig, Leaf) and trig.kind == "step":
                node = by_name.get(trig.name)
        if gate is not None:
            for name in chain:
                gates[name] = gate
    return gates


def _descendants(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    work = list(edges.get(start, ()))
    while work:
        node = work.pop()
        if node not in seen:
            seen.add(node)
            work.extend(edges.get(node, ()))
    return seen


def _check_parallel_writes(
    steps: list[PlanStep],
    edges: dict[str, set[str]],
    writes_of: dict[str, tuple[str, ...]],
    reducer_keys: set[str],
    problems: list[str],
    gates: dict[str, tuple[str, str]],
) -> None:
    writers: dict[str, list[str]] = defaultdict(list)
    for s in steps:
        for key in writes_of.get(s.name, ()):
            if key not in reducer_keys:
                writers[key].append(s.name)
    cache: dict[str, set[str]] = {}

    def below(name: str) -> set[str]:
        if name not in cache:
            cache[name] = _descendants(name, edges)
        return cache[name]

    for key, names in writers.items():
        for a, b in combinations(names, 2):
            ga, gb = gates.get(a), gates.get(b)
            if ga and gb and ga[0] == gb[0] and ga[1] != gb[1]:
                continue  # behind different labels of one router: never both in a run
            if b not in below(a) and a not in below(b):
                problems.append(
                    f"steps {a!r} and {b!r} may run at the same time and both write state "
                    f"key {key!r}; give it a reducer (Annotated[T, reducer(fn)] on the state "
                    f"field, or reducers={{{key!r}: fn}}) or make one step listen to the other"
                )
