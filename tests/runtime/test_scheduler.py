"""The scheduler: ``decide(plan, view, limits)`` with plain values."""

from __future__ import annotations

from plait.plan import PlanStep
from plait.runtime import (
    CompleteRun,
    FailRun,
    RunCompleted,
    RunStarted,
    RunView,
    StartStep,
    StepCompleted,
    StepStarted,
    TriggerIndex,
    apply,
    decide,
)
from tests.runtime._helpers import Log, any_, label, plan_of, step

PLAN = plan_of(
    PlanStep("a", start=True),
    PlanStep("b", start=True),
    # A router: an or_ fires it for every part (a plain listener fires once, as in CrewAI).
    PlanStep("c", kind="router", trigger=any_(step("a"), step("b"), label("again"))),
)
LIMITS = {"a": 10, "b": 10, "c": 2}


def _running() -> tuple[RunView, Log]:
    view, log = RunView(TriggerIndex.build(PLAN)), Log()
    apply(view, log(RunStarted, flow="p"))
    return view, log


def test_nothing_to_do_before_the_run_starts() -> None:
    assert decide(PLAN, RunView(TriggerIndex.build(PLAN)), LIMITS) == []


def test_start_steps_start_in_order() -> None:
    view, _ = _running()
    assert decide(PLAN, view, LIMITS) == [StartStep("a", 1, None), StartStep("b", 1, None)]


def test_waits_while_steps_run() -> None:
    view, log = _running()
    apply(view, log(StepStarted, step="a", invocation=1))
    apply(view, log(StepStarted, step="b", invocation=1))
    assert decide(PLAN, view, LIMITS) == []


def test_starts_ready_listeners_with_their_payload_and_invocation() -> None:
    view, log = _running()
    apply(view, log(StepStarted, step="a", invocation=1))
    apply(view, log(StepStarted, step="b", invocation=1))
    apply(view, log(StepCompleted, step="a", invocation=1, output="A"))
    assert decide(PLAN, view, LIMITS) == [StartStep("c", 1, "A")]
    apply(view, log(StepCompleted, step="b", invocation=1, output="B"))
    # two entries for c: invocations 1 and 2
    assert decide(PLAN, view, LIMITS) == [StartStep("c", 1, "A"), StartStep("c", 2, "B")]


def test_completes_with_the_last_output_when_idle() -> None:
    view, log = _running()
    for name in "ab":
        apply(view, log(StepStarted, step=name, invocation=1))
    apply(view, log(StepCompleted, step="a", invocation=1, output="A"))
    apply(view, log(StepStarted, step="c", invocation=1))
    apply(view, log(StepCompleted, step="c", invocation=1, output="C1"))
    apply(view, log(StepCompleted, step="b", invocation=1, output="B"))
    apply(view, log(StepStarted, step="c", invocation=2))
    apply(view, log(StepCompleted, step="c", invocation=2, output="C2"))
    assert decide(PLAN, view, LIMITS) == [CompleteRun("C2")]


def test_fails_when_a_step_would_pass_its_call_limit() -> None:
    view, log = _running()
    for name in "ab":
        apply(view, log(StepStarted, step=name, invocation=1))
    apply(view, log(StepCompleted, step="a", invocation=1, output="A"))
    apply(view, log(StepStarted, step="c", invocation=1))
    apply(view, log(StepCompleted, step="c", invocation=1, output="C"))
    apply(view, log(StepStarted, step="c", invocation=2))
    apply(view, log(StepCompleted, step="c", invocation=2, output="C"))
    apply(view, log(StepCompleted, step="b", invocation=1, output="B"))  # c a third time
    (cmd,) = decide(PLAN, view, LIMITS)
    assert isinstance(cmd, FailRun)
    assert cmd.step == "c"
    assert cmd.kind == "loop_limit"
    assert "'c'" in cmd.reason and "2 times" in cmd.reason and "max_calls" in cmd.reason


def test_fails_when_one_ready_step_is_over_its_limit() -> None:
    plan = plan_of(PlanStep("a", start=True, max_calls=1), PlanStep("b", trigger=step("a")))
    view, log = RunView(TriggerIndex.build(plan)), Log()
    apply(view, log(RunStarted, flow="p"))
    assert decide(plan, view, {"a": 0, "b": 1})[0] == FailRun(
        "step 'a' was called more than 0 times in flow 'p': a loop that never ends? Raise "
        "its limit with max_calls=... on the step or the flow",
        "a",
        "loop_limit",
    )


def test_nothing_to_do_after_the_run_finished() -> None:
    view, log = _running()
    apply(view, log(RunCompleted, output=None))
    assert decide(PLAN, view, LIMITS) == []
