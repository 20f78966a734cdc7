"""The reducer: ``apply(view, event)`` folds a run's log into its view; ``replay`` rebuilds it."""

from __future__ import annotations

import dataclasses

from plait.define import Leaf
from plait.plan import PlanStep
from plait.runtime import (
    EventEmitted,
    ItemCompleted,
    RouteTaken,
    RunCompleted,
    RunFailed,
    RunStarted,
    RunView,
    StateChanged,
    StepCompleted,
    StepFailed,
    StepStarted,
    TriggerIndex,
    apply,
    replay,
)
from tests.runtime._helpers import Log, all_, any_, join_pending, label, plan_of, step


def _view(plan) -> tuple[RunView, Log]:  # type: ignore[no-untyped-def]
    view = RunView(TriggerIndex.build(plan))
    return view, Log()


def feed(view: RunView, log: Log, cls, **fields) -> None:  # type: ignore[no-untyped-def]
    apply(view, log(cls, **fields))


def ready(view: RunView) -> list[tuple[str, object]]:
    return [(r.step, r.payload) for r in view.ready]


CHAIN = plan_of(
    PlanStep("a", start=True),
    PlanStep("b", trigger=step("a"), takes_input=True),
)


def test_run_started_readies_start_steps_and_sets_state() -> None:
    view, log = _view(CHAIN)
    assert view.status == "pending"
    feed(view, log, RunStarted, flow="p", state={"k": 1})
    assert view.status == "running"
    assert view.state == {"k": 1}
    assert ready(view) == [("a", None)]
    assert view.seq == 1


def test_a_chain_step_by_step() -> None:
    view, log = _view(CHAIN)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="a", invocation=1)
    assert ready(view) == []
    assert view.running == {("a", 1): 1}
    assert view.calls == {"a": 1}
    feed(view, log, StateChanged, step="a", changes={"x": 1, "y": 2})
    feed(view, log, StepCompleted, step="a", invocation=1, output="A")
    assert view.running == {}
    assert view.outputs == {"a": "A"}
    assert (view.last_output, view.completed) == ("A", 1)
    assert ready(view) == [("b", "A")]
    feed(view, log, StepStarted, step="b", invocation=1)
    feed(view, log, StateChanged, step="b", changes={"x": 3}, removed=("y",))
    feed(view, log, StepCompleted, step="b", invocation=1, output="B")
    assert view.state == {"x": 3}
    feed(view, log, RunCompleted, output="B")
    assert view.status == "completed"
    assert view.seq == len(log.events)


def test_retries_keep_one_call() -> None:
    view, log = _view(CHAIN)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="a", invocation=1)
    feed(
        view,
        log,
        StepFailed,
        step="a",
        invocation=1,
        attempt=1,
        error="x",
        error_type="ValueError",
        retrying=True,
    )
    assert view.running == {("a", 1): 1}  # still running: it will try again
    feed(view, log, StepStarted, step="a", invocation=1, attempt=2)
    assert view.running == {("a", 1): 2}
    assert view.calls == {"a": 1}
    feed(
        view,
        log,
        StepFailed,
        step="a",
        invocation=1,
        attempt=2,
        error="x",
        error_type="ValueError",
    )
    assert view.running == {}
    feed(view, log, RunFailed, error="x", error_type="StepError", step="a")
    assert view.status == "failed"
    assert view.error == "x"


def test_route_taken_fires_label_listeners_with_the_label() -> None:
    plan = plan_of(
        PlanStep("s", start=True),
        PlanStep("r", kind="router", trigger=step("s"), labels=("yes", "no")),
        PlanStep("y", trigger=label("yes")),
        PlanStep("n", trigger=label("no")),
    )
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="s", invocation=1)
    feed(view, log, StepCompleted, step="s", invocation=1)
    feed(view, log, StepStarted, step="r", invocation=1)
    feed(view, log, StepCompleted, step="r", invocation=1, output="no")
    assert ready(view) == []  # a router's completion alone fires nothing
    feed(view, log, RouteTaken, step="r", invocation=1, label="no")
    assert ready(view) == [("n", "no")]


def test_emitted_events_fire_their_listeners_with_the_payload() -> None:
    plan = plan_of(PlanStep("s", start=True), PlanStep("e", trigger=Leaf("event", "ping")))
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="s", invocation=1)
    feed(view, log, EventEmitted, step="s", name="ping", payload=42)
    assert ready(view) == [("e", 42)]


def test_items_are_kept_per_step_invocation() -> None:
    view, log = _view(CHAIN)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="a", invocation=1)
    feed(view, log, ItemCompleted, step="a", invocation=1, index=2, output="c")
    feed(view, log, ItemCompleted, step="a", invocation=1, index=0, output="a")
    assert view.items == {("a", 1, 1): {2: "c", 0: "a"}}


def test_or_fires_once_for_the_first_part() -> None:
    """CrewAI: ``or_(a, b)`` fires for whichever completes first, not again for the other."""
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("b", start=True),
        PlanStep("x", trigger=any_(step("a"), step("b"))),
    )
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p")
    for name in "ab":
        feed(view, log, StepStarted, step=name, invocation=1)
    feed(view, log, StepCompleted, step="b", invocation=1, output="B")
    feed(view, log, StepCompleted, step="a", invocation=1, output="A")
    assert ready(view) == [("x", "B")]
    assert view.spent == {"x": 4}


LOOP = plan_of(
    PlanStep("kick", start=True),
    PlanStep("first", kind="router", trigger=step("kick"), labels=("A",)),
    PlanStep("second", kind="router", trigger=label("A"), labels=("B",)),
    PlanStep("x", trigger=any_(label("A"), label("B"))),
    PlanStep("back", kind="router", trigger=step("x"), labels=("B", "stop")),
)


def _routes(view: RunView, log: Log, router: str, invocation: int, label_: str) -> None:
    feed(view, log, StepStarted, step=router, invocation=invocation)
    feed(view, log, StepCompleted, step=router, invocation=invocation, output=label_)
    feed(view, log, RouteTaken, step=router, invocation=invocation, label=label_)


def test_two_routers_chained_in_one_wave_fire_an_or_once() -> None:
    view, log = _view(LOOP)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="kick", invocation=1)
    feed(view, log, StepCompleted, step="kick", invocation=1)
    _routes(view, log, "first", 1, "A")
    assert ready(view) == [("second", "A"), ("x", "A")]
    _routes(view, log, "second", 1, "B")  # the same wave: x stays spent
    assert ready(view) == [("x", "A")]


def test_a_router_loop_re_arms_an_or_each_round() -> None:
    view, log = _view(LOOP)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="kick", invocation=1)
    feed(view, log, StepCompleted, step="kick", invocation=1)
    _routes(view, log, "first", 1, "A")
    view.ready.clear()  # second is not part of this story
    feed(view, log, StepStarted, step="x", invocation=1)
    feed(view, log, StepCompleted, step="x", invocation=1)
    _routes(view, log, "back", 1, "B")  # a wave that began after x fired: re-armed
    assert ready(view) == [("x", "B")]
    feed(view, log, StepStarted, step="x", invocation=2)
    assert view.spent == {}  # a step running again re-arms every or_


def test_route_taken_gives_listeners_the_routers_value() -> None:
    plan = plan_of(
        PlanStep("s", start=True),
        PlanStep("r", kind="router", trigger=step("s")),
        PlanStep("zero", trigger=label("0"), takes_input=True),
    )
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="s", invocation=1)
    feed(view, log, StepCompleted, step="s", invocation=1)
    feed(view, log, StepStarted, step="r", invocation=1)
    feed(view, log, StepCompleted, step="r", invocation=1, output=0)
    feed(view, log, RouteTaken, step="r", invocation=1, label="0")
    assert ready(view) == [("zero", 0)]  # as CrewAI: the value, not its label


def test_and_fires_once_all_completed_then_resets() -> None:
    plan = plan_of(
        PlanStep("a", start=True, trigger=label("go")),
        PlanStep("b", start=True),
        PlanStep("x", trigger=all_(step("a"), step("b"))),
    )
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p")
    feed(view, log, StepStarted, step="a", invocation=1)
    feed(view, log, StepStarted, step="b", invocation=1)
    feed(view, log, StepCompleted, step="a", invocation=1, output="A")
    assert ready(view) == []
    assert join_pending(view, "x")  # half way
    feed(view, log, StepCompleted, step="b", invocation=1, output="B")
    assert ready(view) == [("x", "B")]
    feed(view, log, StepStarted, step="x", invocation=1)
    # a again, alone: the join was reset, so x waits for b again
    feed(view, log, StepStarted, step="a", invocation=2)
    feed(view, log, StepCompleted, step="a", invocation=2, output="A2")
    assert ready(view) == []


def test_a_firing_forgets_all_its_condition_saw() -> None:
    """CrewAI: and_(x, or_(a, and_(b, c))) firing through a drops that b completed."""
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("b", start=True),
        PlanStep("c", start=True),
        PlanStep("x", start=True),
        PlanStep("j", trigger=all_(step("x"), any_(step("a"), all_(step("b"), step("c"))))),
    )
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p")
    for name in "abcx":
        feed(view, log, StepStarted, step=name, invocation=1)
    feed(view, log, StepCompleted, step="b", invocation=1, output="B")
    feed(view, log, StepCompleted, step="a", invocation=1, output="A")
    feed(view, log, StepCompleted, step="x", invocation=1, output="X")
    assert ready(view) == [("j", "X")]
    assert not join_pending(view, "j")
    view.ready.clear()
    feed(view, log, StepStarted, step="x", invocation=2)
    feed(view, log, StepCompleted, step="x", invocation=2, output="X2")
    feed(view, log, StepCompleted, step="c", invocation=1, output="C")
    assert ready(view) == []  # x and c, but not b again: b was forgotten


def test_an_or_of_joins_fires_once_and_forgets_the_other_join() -> None:
    """CrewAI's test_or_branch_does_not_leave_stale_and_state, on the reducer."""
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("c", start=True),
        PlanStep("x", start=True),
        PlanStep("j", trigger=any_(all_(step("a"), step("x")), all_(step("c"), label("y")))),
        PlanStep("r", kind="router", trigger=step("j"), labels=("y",)),
    )
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p")
    for name in "acx":
        feed(view, log, StepStarted, step=name, invocation=1)
        feed(view, log, StepCompleted, step=name, invocation=1, output=name)
    assert ready(view) == [("j", "x")]
    view.ready.clear()
    feed(view, log, StepStarted, step="j", invocation=1)
    feed(view, log, StepCompleted, step="j", invocation=1)
    view.ready.clear()
    _routes(view, log, "r", 1, "y")  # re-arms j (a new wave), but c was forgotten
    assert ready(view) == []


def test_replay_rebuilds_the_same_view() -> None:
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("b", start=True),
        PlanStep("c", start=True),
        PlanStep("x", trigger=all_(step("a"), step("b"), step("c"))),
    )
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p", state={"n": 0})
    for name in "abc":
        feed(view, log, StepStarted, step=name, invocation=1)
    feed(view, log, StepCompleted, step="a", invocation=1, output=1)
    feed(view, log, StateChanged, step="b", changes={"n": 1})
    feed(view, log, StepCompleted, step="b", invocation=1, output=2)
    again = replay(TriggerIndex.build(plan), log.events)
    for f in dataclasses.fields(RunView):
        if f.name not in ("index", "ready"):
            assert getattr(again, f.name) == getattr(view, f.name), f.name
    assert ready(again) == ready(view)
    assert join_pending(again, "x")  # the half-done join survived
