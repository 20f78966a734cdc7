"""Inside steps: context(), map() and emit()."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import plait
from plait import Flow, RetryPolicy, RunError, StepContext, Workflow, listen, on_event, start
from tests.engine._helpers import meet, of_type


def test_context_describes_the_running_step() -> None:
    seen: list[StepContext] = []

    class Ctx(Flow):
        @start()
        def first(self) -> None:
            seen.append(plait.context())

        @listen(first)
        async def second(self) -> None:
            ctx = plait.context()
            assert ctx.state is self.state
            seen.append(ctx)

    flow = Ctx()
    flow.kickoff()
    assert [(c.step, c.flow, c.run_id, c.invocation, c.attempt) for c in seen] == [
        ("first", "Ctx", flow.run_id, 1, 1),
        ("second", "Ctx", flow.run_id, 1, 1),
    ]


@pytest.mark.parametrize(
    "call", [plait.context, lambda: plait.emit("x"), lambda: asyncio.run(plait.map(str, [1]))]
)
def test_outside_a_step_is_a_run_error(call: Any) -> None:
    with pytest.raises(RunError, match="only inside a step"):
        call()


def test_flow_emit_outside_a_step_is_a_run_error() -> None:
    class Idle(Flow):
        @start()
        def s(self) -> None: ...

    with pytest.raises(RunError):
        Idle().emit("x")


def test_map_keeps_the_order_of_items() -> None:
    class Mapper(Flow):
        @start()
        async def go(self) -> list[int]:
            async def slow_square(x: int) -> int:
                for _ in range(10 - x):  # later items finish first
                    await asyncio.sleep(0)
                return x * x

            return await self.map(slow_square, range(10), concurrency=10)

    flow = Mapper()
    assert flow.kickoff() == [x * x for x in range(10)]
    items = of_type(flow.events, "ItemCompleted")
    assert sorted(e.index for e in items) == list(range(10))
    assert {e.index: e.output for e in items} == {x: x * x for x in range(10)}
    assert all(e.step == "go" and e.invocation == 1 for e in items)
    assert [e.index for e in items] != list(range(10))  # they finished out of order


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_map_runs_at_most_concurrency_items_at_once(limit: int) -> None:
    active = 0
    peak = 0
    barrier = asyncio.Barrier(limit)

    async def work(x: int) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if x < limit:
            await meet(barrier)  # the first `limit` items really do run together
        for _ in range(3):
            await asyncio.sleep(0)
        active -= 1
        return x

    class Bounded(Flow):
        @start()
        async def go(self) -> list[int]:
            return await plait.map(work, range(8), concurrency=limit)

    assert Bounded().kickoff() == list(range(8))
    assert peak == limit


def test_map_of_a_sync_function_runs_in_threads() -> None:
    barrier = threading.Barrier(2, timeout=10)

    def blocking(x: int) -> str:
        barrier.wait()
        return threading.current_thread().name

    class Threads(Flow):
        @start()
        async def go(self) -> list[str]:
            return await plait.map(blocking, [1, 2], concurrency=2)

    names = Threads().kickoff()
    assert len(names) == 2 and threading.main_thread().name not in names


def test_map_of_nothing() -> None:
    class Empty(Flow):
        @start()
        async def go(self) -> list[Any]:
            return await plait.map(str, [])

    assert Empty().kickoff() == []


def test_a_failing_item_fails_the_step() -> None:
    def check(x: int) -> int:
        if x == 2:
            raise ValueError(f"bad item {x}")
        return x

    class Failing(Flow):
        @start()
        async def go(self) -> list[int]:
            return await plait.map(check, range(4), concurrency=2)

    with pytest.raises(ValueError, match="bad item 2"):
        Failing().kickoff()


def test_a_retried_step_skips_the_items_it_finished() -> None:
    calls: list[int] = []

    def once(x: int) -> int:
        calls.append(x)
        if x == 2 and calls.count(2) == 1:
            raise ConnectionError("flaky")
        return x * 10

    class Resumable(Flow):
        @start(retry=RetryPolicy(attempts=2, backoff=0.001, jitter=0))
        async def go(self) -> list[int]:
            return await plait.map(once, range(4), concurrency=1)

    flow = Resumable()
    assert flow.kickoff() == [0, 10, 20, 30]
    assert calls == [0, 1, 2, 2, 3]  # items 0 and 1 did not run again
    assert sorted(e.index for e in of_type(flow.events, "ItemCompleted")) == [0, 1, 2, 3]


def test_map_inside_a_workflow_task() -> None:
    wf = Workflow("w")

    async def squares(n: int) -> list[int]:
        return await plait.map(lambda x: x * x, range(n), concurrency=2)

    wf.add(squares)
    assert wf.run({"n": 4}) == [0, 1, 4, 9]


def test_emit_fires_listeners_with_the_payload() -> None:
    class Emitter(Flow):
        @start()
        async def produce(self) -> str:
            self.emit("found", {"n": 1})
            plait.emit("found", {"n": 2})
            plait.context().emit("other")
            return "produced"

        @listen(on_event("found"))
        def consume(self, payload: dict[str, int]) -> int:
            return payload["n"]

        @listen(on_event("other"))
        def other(self, payload: object) -> object:
            return payload

    flow = Emitter()
    flow.kickoff()
    emitted = of_type(flow.events, "EventEmitted")
    assert [(e.step, e.name, e.payload) for e in emitted] == [
        ("produce", "found", {"n": 1}),
        ("produce", "found", {"n": 2}),
        ("produce", "other", None),
    ]
    consumed = sorted(
        e.output for e in of_type(flow.events, "StepCompleted") if e.step == "consume"
    )
    assert consumed == [1, 2]
    assert [e.output for e in of_type(flow.events, "StepCompleted") if e.step == "other"] == [None]


def test_emitted_listeners_start_while_the_emitter_still_runs() -> None:
    barrier = asyncio.Barrier(2)

    class Live(Flow):
        @start()
        async def produce(self) -> None:
            self.emit("go")
            await meet(barrier)  # only passes if the listener runs meanwhile

        @listen(on_event("go"))
        async def consume(self) -> None:
            await meet(barrier)

    Live().kickoff()


def test_emit_from_a_sync_step_in_a_thread() -> None:
    class ThreadEmitter(Flow):
        @start()
        def produce(self) -> str:
            self.emit("ping", threading.current_thread().name)
            return "done"

        @listen(on_event("ping"))
        def pong(self, thread: str) -> str:
            return thread

    flow = ThreadEmitter()
    flow.kickoff()
    (pong,) = [e for e in of_type(flow.events, "StepCompleted") if e.step == "pong"]
    assert pong.output != threading.main_thread().name
