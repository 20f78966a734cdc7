"""A real run's log, replayed through the pure reducer and scheduler, explains the run."""

from __future__ import annotations

from typing import Any, Literal

from plait import Flow, Workflow, and_, compile, listen, or_, router, start
from plait.plan import Plan
from plait.runtime import (
    CompleteRun,
    Event,
    RunCompleted,
    StartStep,
    StepCompleted,
    StepStarted,
    TriggerIndex,
    decide,
    replay,
)
from tests.runtime._helpers import join_pending


class Review(Flow):
    @start()
    def draft(self) -> str:
        self.state["rounds"] = 0
        return "draft"

    @start()
    async def research(self) -> list[str]:
        return ["fact"]

    @listen(and_(draft, research))
    def write(self) -> str:
        self.state["rounds"] += 1
        return f"text {self.state['rounds']}"

    @router(or_(write, "revise"))
    def judge(self) -> Literal["revise", "accept"]:
        if self.state["rounds"] < 3:
            self.state["rounds"] += 1
            return "revise"
        return "accept"

    @listen(and_("accept", "maybe_later"))
    def never_both(self) -> None: ...

    @router(research)
    def later(self) -> Literal["maybe_later", "no"]:
        return "no"

    @listen("no")
    def on_no(self) -> None: ...

    @listen("accept")
    def publish(self) -> str:
        return "published"


def limits(plan: Plan) -> dict[str, int]:
    return {s.name: s.max_calls for s in plan.steps}


def test_replaying_a_run_rebuilds_its_view() -> None:
    flow = Review()
    assert flow.kickoff() in ("published", None)
    plan = compile(Review)
    view = replay(TriggerIndex.build(plan), flow.events)
    assert view.status == "completed"
    assert list(view.ready) == []
    assert view.running == {}
    completed = [e for e in flow.events if isinstance(e, StepCompleted)]
    last: dict[str, Any] = {}
    for e in completed:
        last[e.step] = e.output
    assert view.outputs == last
    assert view.calls == {name: sum(1 for e in completed if e.step == name) for name in last}
    assert view.calls["judge"] == 3
    assert view.completed == len(completed)
    assert view.state == dict(flow.state)
    assert view.seq == flow.events[-1].seq
    # and_("accept", "maybe_later") saw "accept" but never "maybe_later": half done
    assert join_pending(view, "never_both")


def _explains(plan: Plan, events: list[Event]) -> None:
    """Every step start and the run's end are what decide() says for the log before it."""
    index = TriggerIndex.build(plan)
    checked = 0
    for i, event in enumerate(events):
        previous = events[i - 1] if i else None
        if isinstance(event, StepStarted) and event.attempt == 1:
            if isinstance(previous, StepStarted) and previous.attempt == 1:
                continue  # the same decision started several steps
            commands = decide(plan, replay(index, events[:i]), limits(plan))
            starts = [(c.step, c.invocation) for c in commands if isinstance(c, StartStep)]
            assert starts, (i, event)
            assert starts[0] == (event.step, event.invocation)
            checked += 1
        if isinstance(event, RunCompleted):
            assert decide(plan, replay(index, events[:i]), limits(plan)) == [
                CompleteRun(event.output)
            ]
            checked += 1
    assert checked >= 2


def test_the_scheduler_explains_a_flow_run() -> None:
    flow = Review()
    flow.kickoff()
    _explains(compile(Review), flow.events)


def test_the_scheduler_explains_a_workflow_run() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1, name="a")
    wf.add(lambda: 2, name="b")
    wf.add(lambda a, b: a + b, name="c", depends_on=["a", "b"])
    wf.add(lambda c: c * 2, name="d", depends_on=["c"])
    assert wf.run() == 6
    _explains(compile(wf), wf.events)
    view = replay(TriggerIndex.build(compile(wf)), wf.events)
    assert view.outputs == {"a": 1, "b": 2, "c": 3, "d": 6}
    assert view.calls == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert list(view.ready) == []
    assert not join_pending(view, "c")
