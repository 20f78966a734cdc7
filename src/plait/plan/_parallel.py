"""What may run at the same time: steps that run at most once per run, joins over
exclusive router labels that can never fire, and parallel writes to one state key that
need a reducer."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from plait.define import AllOf, AnyOf, Condition, Leaf
from plait.plan._graph import descendants, label_owners
from plait.plan._model import PlanStep


def runs_once(steps: list[PlanStep], in_cycle: set[str]) -> dict[str, bool]:
    """Step -> whether it runs at most once per run.

    A start step without a trigger runs once; one with a trigger may run again. A step
    in a cycle, or fired by ``or_`` or an event, may run many times. A step fired by a
    step, or by a label of its only router, runs as often as that; one fired by ``and_``
    runs once when every part does. Iterative: long chains need no deep recursion.
    """
    by_name = {s.name: s for s in steps}
    owners = label_owners(steps)

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


def check_exclusive_joins(
    steps: list[PlanStep], once: dict[str, bool], problems: list[str]
) -> None:
    """and_ of two labels of one router that runs at most once can never fire."""
    label_owner = label_owners(steps)
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


def gates_of(steps: list[PlanStep], once: dict[str, bool]) -> dict[str, tuple[str, str]]:
    """Step -> (router, label) that every run reaching it goes through, for routers that
    run at most once (see :func:`runs_once`). Followed through chains of single-step
    listeners."""
    owner = label_owners(steps)
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


def check_parallel_writes(
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
            cache[name] = descendants(name, edges)
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
