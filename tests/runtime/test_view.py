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
    assert (view.last_step, view.last_output, view.completed) == ("a", "A", 1)
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


def test_or_fires_each_time_any_child_fires() -> None:
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
    assert ready(view) == [("x", "B"), ("x", "A")]


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


def test_or_of_a_step_and_a_join_keeps_the_join_progress() -> None:
    """or_(a, and_(b, c)): a firing must not erase that b already completed."""
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("b", start=True),
        PlanStep("c", start=True),
        PlanStep("x", trigger=any_(step("a"), all_(step("b"), step("c")))),
    )
    view, log = _view(plan)
    feed(view, log, RunStarted, flow="p")
    for name in "abc":
        feed(view, log, StepStarted, step=name, invocation=1)
    feed(view, log, StepCompleted, step="b", invocation=1, output="B")
    feed(view, log, StepCompleted, step="a", invocation=1, output="A")
    feed(view, log, StepCompleted, step="c", invocation=1, output="C")
    assert ready(view) == [("x", "A"), ("x", "C")]


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
