"""A step that fails in an odd way fails its run cleanly: no hang, no lost events, no
state from a failed attempt."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from plait import Flow, RetryPolicy, StepError, listen, start
from plait.runtime import RunFailed, StepFailed


def run(flow: Flow[Any], timeout: float = 10.0) -> Any:
    async def go() -> Any:
        return await asyncio.wait_for(flow.kickoff_async(), timeout)

    return asyncio.run(go())


def test_a_sync_step_raising_stop_iteration_fails_instead_of_hanging() -> None:
    class F(Flow):
        @start()
        def first(self) -> Any:
            return next(iter([]))

    with pytest.raises(RuntimeError, match="StopIteration"):
        run(F())


def test_a_failure_elsewhere_stops_the_step_run_kicked_off_inline() -> None:
    never = asyncio.Event()

    class F(Flow):
        @start()
        async def waits(self) -> None:  # runs first, in kickoff's own coroutine
            await never.wait()

        @start()
        async def boom(self) -> None:
            raise ValueError("boom")

    flow = F()
    with pytest.raises(ValueError, match="boom"):
        run(flow)
    kinds = [type(e).__name__ for e in flow.events]
    assert kinds[-1] == "RunFailed"
    assert kinds.count("RunFailed") == 1


def test_nothing_is_recorded_after_the_run_failed() -> None:
    class F(Flow):
        @start()
        async def mapper(self) -> list[int]:
            async def slow(x: int) -> int:
                await asyncio.sleep(0.01)
                return x

            return await self.map(slow, range(50), concurrency=2)

        @start()
        async def boom(self) -> None:
            await asyncio.sleep(0.02)
            raise ValueError("boom")

    flow = F()
    with pytest.raises(ValueError, match="boom"):
        run(flow)
    assert isinstance(flow.events[-1], RunFailed)


@pytest.mark.parametrize("kind", ["cancelled", "custom", "exit", "interrupt"])
def test_a_step_raising_a_base_exception_fails_the_run(kind: str) -> None:
    class Stop(BaseException):
        pass

    class F(Flow):
        @start()
        async def fine(self) -> str:
            await asyncio.sleep(0.01)
            return "fine"

        @start()
        async def odd(self) -> None:
            if kind == "cancelled":
                raise asyncio.CancelledError()  # raised by the step, not a cancellation
            if kind == "exit":
                raise SystemExit("bye")
            if kind == "interrupt":
                raise KeyboardInterrupt()
            raise Stop()

    flow = F()
    with pytest.raises(StepError) as caught:
        run(flow)
    assert caught.value.step == "odd"
    failed = [e for e in flow.events if isinstance(e, StepFailed)]
    assert [e.step for e in failed] == ["odd"]
    assert isinstance(flow.events[-1], RunFailed)


def test_two_maps_in_one_step_keep_their_own_results() -> None:
    class F(Flow):
        @start()
        async def both(self) -> tuple[list[int], list[str]]:
            squares = await self.map(lambda x: x * x, [1, 2, 3])
            upper = await self.map(str.upper, ["a", "b", "c"])
            return squares, upper

    assert run(F()) == ([1, 4, 9], ["A", "B", "C"])


def test_map_awaits_objects_with_an_async_call() -> None:
    class Double:
        async def __call__(self, x: int) -> int:
            return 2 * x

    class F(Flow):
        @start()
        async def go(self) -> list[int]:
            return await self.map(Double(), [1, 2], concurrency=1)

    assert run(F()) == [2, 4]


def test_an_async_step_behind_a_sync_decorator_is_awaited() -> None:
    def logged(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any) -> Any:
            return fn(*args)

        return wrapper

    class F(Flow):
        @start()
        @logged
        async def fetch(self) -> str:
            await asyncio.sleep(0)
            return "data"

        @listen(fetch)
        def use(self, got: Any) -> str:
            return f"got {got}"

    assert run(F()) == "got data"


def test_a_failed_attempt_leaves_no_state_behind() -> None:
    attempts: list[int] = []

    class F(Flow):
        @start(retry=RetryPolicy(attempts=3, backoff=0))
        def pay(self) -> str:
            self.state["charged"] = self.state.get("charged", 0) + 10
            attempts.append(self.state["charged"])
            if len(attempts) < 3:
                raise ConnectionError("gateway hiccup")
            return "ok"

    flow = F()
    assert run(flow) == "ok"
    assert attempts == [10, 10, 10]  # every attempt starts from the committed state
    assert flow.state["charged"] == 10


def test_model_state_with_validate_assignment_is_tracked() -> None:
    class S(BaseModel):
        model_config = ConfigDict(validate_assignment=True)
        count: int = 0
        note: str = ""

    class F(Flow[S]):
        @start()
        def bump(self) -> None:
            self.state.count = 1
            self.state.note = "hi"

    flow = F()
    run(flow)
    assert flow.state.count == 1
    changes: dict[str, Any] = {}
    for change in flow.state_history:
        changes.update(change.changes)
    assert changes == {"count": 1, "note": "hi"}
