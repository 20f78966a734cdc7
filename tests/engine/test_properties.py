"""Scheduling invariants over random graphs (hypothesis).

Random DAG workflows: every task runs once, never before its dependencies, gets their
outputs, and independent tasks really run at the same time. Random or_/and_ conditions:
a listener fires exactly as often as a plain-Python reference of CrewAI's rules says.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from plait import Flow, Workflow, and_, listen, on_event, or_, start
from tests.engine._helpers import meet, of_type

SETTINGS = settings(max_examples=50, deadline=None)

# -- random DAG workflows --------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, Any]:
    """Tasks t0..tn-1; each depends on some earlier ones; some are sync, some yield."""
    n = draw(st.integers(1, 8))
    names = [f"t{i}" for i in range(n)]
    deps = {
        name: sorted(draw(st.sets(st.sampled_from(names[:i]), max_size=3))) if i else []
        for i, name in enumerate(names)
    }
    sync = {name: draw(st.booleans()) for name in names}
    yields = {name: draw(st.integers(0, 3)) for name in names}
    return {"names": names, "deps": deps, "sync": sync, "yields": yields}


def ancestors(deps: dict[str, list[str]], name: str) -> set[str]:
    seen: set[str] = set()
    work = list(deps[name])
    while work:
        d = work.pop()
        if d not in seen:
            seen.add(d)
            work.extend(deps[d])
    return seen


def reference_outputs(names: list[str], deps: dict[str, list[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:  # names are in dependency order
        out[name] = f"{name}({','.join(out[d] for d in sorted(deps[name]))})"
    return out


def build_workflow(
    spec: dict[str, Any], log: list[tuple[str, str]], pair: tuple[str, str] | None
) -> Workflow:
    wf = Workflow("random")
    barrier = asyncio.Barrier(2)
    lock = threading.Lock()

    def record(kind: str, name: str) -> None:
        with lock:
            log.append((kind, name))

    def output(name: str, got: dict[str, str]) -> str:
        assert sorted(got) == sorted(spec["deps"][name]), (name, sorted(got))
        return f"{name}({','.join(got[d] for d in sorted(got))})"

    for name in spec["names"]:
        if spec["sync"][name] and (pair is None or name not in pair):

            def sync_task(_name: str = name, **got: str) -> str:
                record("start", _name)
                result = output(_name, got)
                record("end", _name)
                return result

            fn: Any = sync_task
        else:

            async def async_task(_name: str = name, **got: str) -> str:
                record("start", _name)
                if pair is not None and _name in pair:
                    await meet(barrier)  # both of the pair must be running at once
                for _ in range(spec["yields"][_name]):
                    await asyncio.sleep(0)
                result = output(_name, got)
                record("end", _name)
                return result

            fn = async_task
        wf.add(fn, name=name, depends_on=spec["deps"][name])
    return wf


@SETTINGS
@given(spec=dags(), data=st.data())
def test_random_dags_run_each_task_once_in_dependency_order(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    names, deps = spec["names"], spec["deps"]
    independent = [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if a not in ancestors(deps, b) and b not in ancestors(deps, a)
    ]
    pair = data.draw(st.sampled_from(independent)) if independent else None
    log: list[tuple[str, str]] = []
    wf = build_workflow(spec, log, pair)

    result = wf.run()

    # every task ran exactly once
    assert sorted(name for kind, name in log if kind == "start") == sorted(names)
    assert sorted(name for kind, name in log if kind == "end") == sorted(names)
    # no task started before all its dependencies ended
    position = {entry: i for i, entry in enumerate(log)}
    for name in names:
        for dep in deps[name]:
            assert position[("end", dep)] < position[("start", name)], (dep, name)
    # the same, read from the run's events
    started = {e.step: e.seq for e in of_type(wf.events, "StepStarted")}
    completed = {e.step: e.seq for e in of_type(wf.events, "StepCompleted")}
    assert len(of_type(wf.events, "StepStarted")) == len(names)
    for name in names:
        for dep in deps[name]:
            assert completed[dep] < started[name]
    # outputs were passed by name and combined as the reference says
    expected = reference_outputs(names, deps)
    assert {e.step: e.output for e in of_type(wf.events, "StepCompleted")} == expected
    needed = {d for ds in deps.values() for d in ds}
    sinks = [name for name in names if name not in needed]
    if len(sinks) == 1:
        assert result == expected[sinks[0]]
    else:
        assert result == {name: expected[name] for name in sinks}


# -- random or_/and_ conditions ------------------------------------------------------------

Tree = tuple[str, Any]  # ("leaf", name) | ("or" | "and", [children])


@st.composite
def trees(draw: st.DrawFn, pool: list[str]) -> Tree:
    """A condition over distinct leaves drawn from ``pool``, nested up to a few levels."""
    names = draw(st.permutations(pool))[: draw(st.integers(1, len(pool)))]

    def build(group: list[str], depth: int) -> Tree:
        if len(group) == 1 and (depth >= 2 or draw(st.booleans())):
            return ("leaf", group[0])
        kind = draw(st.sampled_from(["or", "and"]))
        if len(group) == 1:
            return (kind, [("leaf", group[0])])
        cuts = sorted(draw(st.sets(st.integers(1, len(group) - 1), min_size=1)))
        bounds = list(zip([0, *cuts], [*cuts, len(group)], strict=True))
        return (kind, [build(group[a:b], depth + 1) for a, b in bounds])

    return build(list(names), 0)


def describe(tree: Tree) -> str:
    kind, value = tree
    if kind == "leaf":
        return value
    return f"{kind}_(" + ", ".join(describe(c) for c in value) + ")"


def holds(tree: Tree, seen: set[str]) -> bool:
    kind, value = tree
    if kind == "leaf":
        return value in seen
    parts = (holds(child, seen) for child in value)
    return any(parts) if kind == "or" else all(parts)


def reference_firings(tree: Tree, happenings: list[str]) -> list[int]:
    """Indexes into ``happenings`` at which the whole condition fires, by CrewAI's rules
    (``Flow._condition_met``): the listener keeps the names it has seen since it last
    fired and fires when the condition holds over them, then forgets them all. An or_ of
    several parts at the top fires once (no router or step running again re-arms it here).
    """
    once = tree[0] == "or" and len(tree[1]) > 1
    seen: set[str] = set()
    out: list[int] = []
    for i, name in enumerate(happenings):
        seen.add(name)
        if holds(tree, seen):
            out.append(i)
            seen = set()
            if once:
                break
    return out


def to_condition(tree: Tree, leaf: Any) -> Any:
    kind, value = tree
    if kind == "leaf":
        return leaf(value)
    combine = or_ if kind == "or" else and_
    return combine(*(to_condition(c, leaf) for c in value))


def _named(fn: Any, name: str) -> Any:
    fn.__name__ = name
    fn.__qualname__ = f"Random.{name}"
    return fn


EVENTS = ["e0", "e1", "e2"]


@SETTINGS
@example(  # or_ of a leaf and a half-done and_: it fires once, for the leaf
    tree=("or", [("leaf", "e0"), ("and", [("leaf", "e1"), ("leaf", "e2")])]),
    happenings=["e1", "e0", "e2"],
)
@given(
    tree=trees(EVENTS),
    happenings=st.lists(st.sampled_from(EVENTS), min_size=2, max_size=12),
)
def test_or_and_fire_as_the_reference_says_for_emitted_events(
    tree: Tree, happenings: list[str]
) -> None:
    async def emitter(self: Flow[Any]) -> None:
        for i, name in enumerate(happenings):
            self.emit(name, i)
            await asyncio.sleep(0)

    def listener(self: Flow[Any], payload: int) -> int:
        return payload

    namespace = {
        "emitter": start()(_named(emitter, "emitter")),
        "x": listen(to_condition(tree, on_event))(_named(listener, "x")),
    }
    flow_cls: type[Flow[Any]] = type("Random", (Flow,), namespace)
    flow = flow_cls()
    flow.kickoff()

    expected = reference_firings(tree, happenings)
    fired = sorted(e.output for e in of_type(flow.events, "StepCompleted") if e.step == "x")
    assert fired == expected, describe(tree)


STARTS = ["s0", "s1", "s2", "s3", "s4"]


@SETTINGS
@example(
    tree=("or", [("leaf", "s0"), ("and", [("leaf", "s1"), ("leaf", "s2")])]),
    order=["s1", "s0", "s2", "s3", "s4"],
)
@given(tree=trees(STARTS), order=st.permutations(STARTS))
def test_or_and_over_start_steps_fire_as_the_reference_says(tree: Tree, order: list[str]) -> None:
    """Start steps complete one at a time in ``order``; x listens to a random condition."""
    gates = {name: asyncio.Event() for name in STARTS}

    def start_step(name: str) -> Any:
        async def body(self: Flow[Any]) -> str:
            await gates[name].wait()
            return name

        return start()(_named(body, name))

    async def conductor(self: Flow[Any]) -> None:
        gates[order[0]].set()

    def relay(done: str) -> Any:
        async def body(self: Flow[Any]) -> None:
            following = order.index(done) + 1
            if following < len(order):
                gates[order[following]].set()

        return listen(done)(_named(body, f"relay_{done}"))

    def listener(self: Flow[Any], payload: str) -> str:
        return payload

    namespace: dict[str, Any] = {name: start_step(name) for name in STARTS}
    namespace["conductor"] = start()(_named(conductor, "conductor"))
    namespace.update({f"relay_{name}": relay(name) for name in STARTS})
    namespace["x"] = listen(to_condition(tree, str))(_named(listener, "x"))
    flow_cls: type[Flow[Any]] = type("Random", (Flow,), namespace)
    flow = flow_cls()
    flow.kickoff()

    completed = [e.step for e in of_type(flow.events, "StepCompleted") if e.step in STARTS]
    assert completed == list(order)
    expected = [order[i] for i in reference_firings(tree, list(order))]
    fired = [e.output for e in of_type(flow.events, "StepCompleted") if e.step == "x"]
    assert sorted(fired) == sorted(expected), describe(tree)


def test_reference_semantics_examples() -> None:
    """The reference itself, on the cases the issue spells out."""
    a, b, c = ("leaf", "a"), ("leaf", "b"), ("leaf", "c")
    assert reference_firings(("or", [a, b]), ["a", "b", "a"]) == [0]
    assert reference_firings(("or", [a]), ["a", "b", "a"]) == [0, 2]
    assert reference_firings(("and", [a, b]), ["a", "a", "b", "a", "b"]) == [2, 4]
    nested = ("or", [a, ("and", [b, c])])
    assert reference_firings(nested, ["b", "a", "c"]) == [1]
    assert reference_firings(nested, ["b", "c", "a"]) == [1]
    joined = ("and", [("or", [a, b]), c])  # firing forgets everything it saw
    assert reference_firings(joined, ["a", "c", "b", "c"]) == [1, 3]
    assert reference_firings(("and", [a, ("and", [b, c])]), ["b", "a", "c", "b"]) == [2]
