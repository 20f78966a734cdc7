"""Events and state history: stream, subscribers, StateChanged patches."""

from __future__ import annotations

import asyncio
import itertools
import logging
from contextlib import aclosing
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from plait import (
    Event,
    Flow,
    RunCompleted,
    RunFailed,
    RunStarted,
    StateChanged,
    StepCompleted,
    StepStarted,
    Workflow,
    compile,
    listen,
    start,
)
from plait.runtime import TriggerIndex, replay
from plait.stores import MemoryStore
from tests.engine._helpers import of_type, types


class Pipeline(Flow):
    @start()
    def fetch(self) -> list[int]:
        self.state["items"] = [1, 2]
        return [1, 2]

    @listen(fetch)
    async def total(self, items: list[int]) -> int:
        self.state["total"] = sum(items)
        del self.state["items"]
        return sum(items)


async def collect(flow: Flow[Any], inputs: dict[str, Any] | None = None) -> list[Event]:
    return [event async for event in flow.stream(inputs)]


def test_stream_yields_the_run_in_order() -> None:
    flow = Pipeline()
    events = asyncio.run(collect(flow, {"who": "me"}))
    assert types(events) == [
        "RunStarted",
        "StepStarted",
        "StateChanged",
        "StepCompleted",
        "StepStarted",
        "StateChanged",
        "StepCompleted",
        "RunCompleted",
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.run_id for e in events} == {flow.run_id}
    assert all(isinstance(e, Event) for e in events)
    started = events[0]
    assert isinstance(started, RunStarted)
    assert started.flow == "Pipeline"
    assert started.inputs == {"who": "me"}
    assert started.state == {"who": "me", "id": flow.run_id}
    done = events[-1]
    assert isinstance(done, RunCompleted) and done.output == 3
    steps = [e for e in events if isinstance(e, StepCompleted)]
    assert [(e.step, e.output) for e in steps] == [("fetch", [1, 2]), ("total", 3)]
    assert all(e.duration >= 0 for e in steps)
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(events))
    assert events == flow.events  # the same log, kept on the flow


def test_the_store_keeps_the_same_log() -> None:
    store = MemoryStore()
    flow = Pipeline()
    flow.kickoff(store=store)
    logged = asyncio.run(store.read(flow.run_id))
    assert logged == flow.events
    record = asyncio.run(store.get_run(flow.run_id))
    assert record is not None and record.status == "completed" and record.flow == "Pipeline"


def test_state_changes_are_patches_attributed_to_their_step() -> None:
    flow = Pipeline()
    flow.kickoff()
    history = flow.state_history
    assert all(isinstance(e, StateChanged) for e in history)
    assert [(e.step, e.changes, e.removed) for e in history] == [
        ("fetch", {"items": [1, 2]}, ()),
        ("total", {"total": 3}, ("items",)),
    ]


def test_in_place_changes_are_seen_and_copied() -> None:
    class Appender(Flow):
        @start()
        def one(self) -> None:
            self.state["log"] = ["one"]

        @listen(one)
        def two(self) -> None:
            self.state["log"].append("two")

    flow = Appender()
    flow.kickoff()
    patches = [e.changes["log"] for e in flow.state_history]
    assert patches == [["one"], ["one", "two"]]  # the first patch was not changed later


def test_a_step_that_changes_nothing_records_no_patch() -> None:
    class Quiet(Flow):
        @start()
        def read(self) -> int:
            return len(self.state)

        @listen(read)
        def same(self) -> None:
            self.state["id"] = self.state["id"]

    flow = Quiet()
    flow.kickoff()
    assert flow.state_history == []


def test_model_state_changes_are_recorded() -> None:
    class Doc(BaseModel):
        id: str = ""
        title: str = ""

    class Titler(Flow[Doc]):
        @start()
        def name_it(self) -> None:
            self.state.title = "Plait"

    flow = Titler()
    flow.kickoff()
    (change,) = flow.state_history
    assert (change.step, change.changes) == ("name_it", {"title": "Plait"})


def test_validate_assignment_model_changes_are_credited_to_their_steps() -> None:
    """pydantic swaps the model's __dict__ on each validated assignment; plait reads the
    live mapping again (define.live_mapping) so every change is still recorded."""

    class Checked(BaseModel):
        model_config = ConfigDict(validate_assignment=True)
        count: int = 0
        note: str = ""

    class Two(Flow[Checked]):
        @start()
        def a(self) -> None:
            self.state.count = 1

        @listen(a)
        def b(self) -> None:
            self.state.note = "hi"

    flow = Two()
    flow.kickoff()
    assert [(e.step, e.changes) for e in flow.state_history] == [
        ("a", {"count": 1}),
        ("b", {"note": "hi"}),
    ]
    view = replay(TriggerIndex.build(compile(Two)), flow.events)
    assert view.state == {"count": 1, "note": "hi", "id": flow.run_id}  # FlowState's id


def test_concurrent_steps_are_credited_only_with_their_own_writes() -> None:
    """a writes "a" and is still running when b completes: b's patch must not claim "a"."""
    a_wrote = asyncio.Event()
    b_done = asyncio.Event()

    class Overlap(Flow):
        @start()
        async def a(self) -> None:
            self.state["a"] = 1
            a_wrote.set()
            await b_done.wait()

        @start()
        async def b(self) -> None:
            await a_wrote.wait()
            self.state["b"] = 2

        @listen(b)
        async def after_b(self) -> None:
            b_done.set()

    flow = Overlap()
    flow.kickoff()
    credited = {key: e.step for e in flow.state_history for key in e.changes}
    assert credited == {"a": "a", "b": "b"}


def test_subscribers_see_every_event_live() -> None:
    seen: list[str] = []
    during: list[int] = []

    class Watched(Flow):
        @start()
        def one(self) -> None:
            during.append(len(seen))  # events so far, while the step runs
            self.state["x"] = 1

    flow = Watched()
    returned = flow.subscribe(lambda e: seen.append(type(e).__name__))
    assert callable(returned)
    flow.kickoff()
    assert seen == types(flow.events)
    assert during == [2]  # RunStarted and StepStarted arrived before the step ran


def test_on_state_change_gets_only_state_changes() -> None:
    changes: list[StateChanged] = []
    flow = Pipeline()
    flow.on_state_change(changes.append)
    flow.kickoff()
    assert changes == flow.state_history
    assert len(changes) == 2


def test_a_subscriber_that_raises_is_logged_and_the_run_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    flow = Pipeline()
    flow.subscribe(broken)
    with caplog.at_level(logging.ERROR, logger="plait"):
        assert flow.kickoff() == 3
    assert of_type(flow.events, "RunCompleted")
    records = [r for r in caplog.records if r.name == "plait"]
    assert records, "the subscriber's error was not logged"
    assert any("subscriber bug" in (r.exc_text or "") or r.exc_info for r in records)


def test_listeners_passed_to_kickoff_are_called_too() -> None:
    seen: list[Event] = []
    flow = Pipeline()
    flow.kickoff(listeners=[seen.append])
    assert seen == flow.events


def test_stream_of_a_failing_run_yields_run_failed_then_raises() -> None:
    class Failing(Flow):
        @start()
        def go(self) -> None:
            raise ValueError("nope")

    flow = Failing()
    seen: list[Event] = []

    async def main() -> None:
        async for event in flow.stream():
            seen.append(event)

    with pytest.raises(ValueError, match="nope"):  # the step's own, as kickoff raises it
        asyncio.run(main())
    assert types(seen) == ["RunStarted", "StepStarted", "StepFailed", "RunFailed"]
    assert isinstance(seen[-1], RunFailed)
    assert seen[-1].step == "go"


def test_closing_a_stream_early_stops_the_run() -> None:
    gate = asyncio.Event()
    ran_after: list[str] = []

    class Long(Flow):
        @start()
        async def first(self) -> None:
            await gate.wait()

        @listen(first)
        async def second(self) -> None:
            ran_after.append("second")

    async def main() -> list[str]:
        names = []
        async with aclosing(Long().stream()) as stream:
            async for event in stream:
                names.append(type(event).__name__)
                if isinstance(event, StepStarted):
                    break
        gate.set()
        await asyncio.sleep(0)
        return names

    assert asyncio.run(main()) == ["RunStarted", "StepStarted"]
    assert ran_after == []


def test_workflow_stream_and_state_history() -> None:
    wf = Workflow("w")

    @wf.task()
    def one() -> int:
        return 1

    async def main() -> list[Event]:
        return [e async for e in wf.stream()]

    events = asyncio.run(main())
    assert types(events) == ["RunStarted", "StepStarted", "StepCompleted", "RunCompleted"]
    assert wf.events == events
    assert wf.state_history == []
