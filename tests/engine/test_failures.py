"""Failures: retries, step errors with context, timeouts, router results, call limits."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

import pytest

from plait import (
    Flow,
    LoopLimitError,
    RetryPolicy,
    RunError,
    StepError,
    StepTimeoutError,
    context,
    listen,
    or_,
    router,
    start,
)
from tests.engine._helpers import HANG_GUARD, of_type

FAST = {"backoff": 0.001, "jitter": 0.0}


def test_a_retried_step_succeeds_and_its_failures_are_recorded() -> None:
    attempts: list[int] = []

    class Flaky(Flow):
        @start(retry=RetryPolicy(attempts=3, **FAST))
        def call(self) -> str:
            attempts.append(context().attempt)
            if len(attempts) < 3:
                raise ConnectionError(f"down {len(attempts)}")
            return "up"

    flow = Flaky()
    assert flow.kickoff() == "up"
    assert attempts == [1, 2, 3]
    failed = of_type(flow.events, "StepFailed")
    assert [(e.attempt, e.retrying, e.error, e.error_type) for e in failed] == [
        (1, True, "down 1", "ConnectionError"),
        (2, True, "down 2", "ConnectionError"),
    ]
    started = [e.attempt for e in of_type(flow.events, "StepStarted")]
    assert started == [1, 2, 3]
    assert all(e.invocation == 1 for e in of_type(flow.events, "StepStarted"))
    assert of_type(flow.events, "RunCompleted")


def test_retry_as_an_int_counts_attempts() -> None:
    calls: list[int] = []

    class Twice(Flow):
        @start(retry=2)
        async def call(self) -> str:
            calls.append(1)
            if len(calls) == 1:
                raise ValueError("first")
            return "second"

    assert Twice().kickoff() == "second"
    assert len(calls) == 2


def test_errors_outside_retry_on_fail_at_once() -> None:
    calls: list[int] = []

    class Picky(Flow):
        @start(retry=RetryPolicy(attempts=5, retry_on=(ConnectionError,), **FAST))
        def call(self) -> None:
            calls.append(1)
            raise ValueError("bad input")

    flow = Picky()
    with pytest.raises(ValueError, match="bad input") as info:
        flow.kickoff()
    assert calls == [1]
    assert "attempt 1)" in info.value.__notes__[-1]
    (failed,) = of_type(flow.events, "StepFailed")
    assert not failed.retrying


def test_the_final_failure_raises_the_steps_exception_with_context() -> None:
    raised: list[BaseException] = []

    class Broken(Flow):
        @start()
        def prepare(self) -> int:
            return 1

        @listen(prepare, retry=RetryPolicy(attempts=2, **FAST))
        def explode(self) -> None:
            err = ValueError("the disk is full")
            raised.append(err)
            raise err

    flow = Broken()
    with pytest.raises(ValueError, match="the disk is full") as info:  # as CrewAI raises it
        flow.kickoff()
    err = info.value
    assert err is raised[-1]
    assert len(raised) == 2
    (note,) = err.__notes__  # PEP 678: shown under the traceback
    for part in ("'explode'", "'Broken'", flow.run_id, "attempt 2"):
        assert part in note
    assert flow.run_id != ""

    last = of_type(flow.events, "StepFailed")[-1]
    assert (last.step, last.attempt, last.retrying) == ("explode", 2, False)
    assert last.error_type == "ValueError"
    assert "Traceback" in last.traceback
    assert "the disk is full" in last.traceback
    assert "def explode" in last.traceback or "explode" in last.traceback
    (run_failed,) = of_type(flow.events, "RunFailed")
    assert run_failed.step == "explode"
    assert run_failed.error_type == "StepError"  # the stored log keeps plait's account
    for part in ("'explode'", "'Broken'", flow.run_id, "attempt 2", "the disk is full"):
        assert part in run_failed.error
    assert flow.events[-1] is run_failed


def test_the_engine_still_raises_step_error_with_the_exception_as_cause() -> None:
    """CLI and worker run flows through the engine, which keeps StepError."""
    from plait.engine import ENGINE

    class Broken(Flow):
        @start()
        def explode(self) -> None:
            raise ValueError("the disk is full")

    flow = Broken()
    with pytest.raises(StepError) as info:
        asyncio.run(ENGINE.run(flow, {}))
    err = info.value
    assert type(err) is StepError
    assert (err.flow, err.step, err.attempt, err.run_id) == ("Broken", "explode", 1, flow.run_id)
    assert isinstance(err.__cause__, ValueError)


def test_an_async_step_failure_has_the_same_context() -> None:
    class AsyncBroken(Flow):
        @start()
        async def explode(self) -> None:
            raise KeyError("missing")

    with pytest.raises(KeyError, match="missing") as info:
        AsyncBroken().kickoff()
    assert "step 'explode'" in info.value.__notes__[-1]


def test_a_failure_stops_the_other_running_steps() -> None:
    cancelled = threading.Event()
    waiting = asyncio.Event()

    class Parallel(Flow):
        @start()
        async def fails(self) -> None:
            await waiting.wait()
            raise RuntimeError("no")

        @start()
        async def waits(self) -> None:
            waiting.set()
            try:
                await asyncio.sleep(HANG_GUARD)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    with pytest.raises(RuntimeError, match="no"):
        Parallel().kickoff()
    assert cancelled.is_set()


def test_a_flow_can_run_again_after_a_failure() -> None:
    class Once(Flow):
        @start()
        def go(self) -> str:
            if self.state.get("fail"):
                raise RuntimeError("asked to")
            return "fine"

    flow = Once()
    with pytest.raises(RuntimeError, match="asked to"):
        flow.kickoff({"fail": True})
    assert flow.kickoff() == "fine"


def test_an_async_step_past_its_timeout() -> None:
    class Slow(Flow):
        @start(timeout=0.01)
        async def wait(self) -> None:
            await asyncio.sleep(HANG_GUARD)

    flow = Slow()
    with pytest.raises(StepTimeoutError) as info:
        flow.kickoff()
    err = info.value
    assert isinstance(err, StepError)
    assert (err.step, err.flow, err.attempt, err.run_id) == ("wait", "Slow", 1, flow.run_id)
    assert "timed out after 0.01 s" in str(err)
    assert of_type(flow.events, "StepFailed")[0].error_type == "TimeoutError"


def test_a_sync_step_past_its_timeout() -> None:
    release = threading.Event()

    class Blocking(Flow):
        @start(timeout=0.01)
        def wait(self) -> None:
            release.wait(HANG_GUARD)

    try:
        with pytest.raises(StepTimeoutError):
            Blocking().kickoff()
    finally:
        release.set()


def test_a_timed_out_attempt_is_retried() -> None:
    calls: list[int] = []

    class SlowThenFast(Flow):
        @start(timeout=0.01, retry=RetryPolicy(attempts=2, **FAST))
        async def call(self) -> str:
            calls.append(1)
            if len(calls) == 1:
                await asyncio.sleep(HANG_GUARD)
            return "fast"

    assert SlowThenFast().kickoff() == "fast"


def _open_router_flow() -> type[Flow[Any]]:
    class Open(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def route(self) -> Any:
            return self.state["way"]

        @listen("left")
        def go_left(self) -> str:
            return "left"

    return Open


def test_a_router_label_nobody_listens_to_ends_that_branch() -> None:
    """As in CrewAI: not a failure; the run completes with the router's output."""
    flow = _open_router_flow()()
    assert flow.kickoff({"way": "sideways"}) == "sideways"
    (route,) = of_type(flow.events, "RouteTaken")
    assert route.label == "sideways"
    assert not of_type(flow.events, "RunFailed")
    assert of_type(flow.events, "RunCompleted")


@pytest.mark.parametrize(
    ("value", "label"), [(42, "42"), (None, None), (["left"], "['left']"), (False, "False")]
)
def test_a_router_returning_something_other_than_a_str(value: object, label: str | None) -> None:
    """CrewAI's conversion: None routes nowhere, anything else routes to str() of it."""
    flow = _open_router_flow()()
    assert flow.kickoff({"way": value}) == value
    assert [e.label for e in of_type(flow.events, "RouteTaken")] == ([label] if label else [])


def test_a_router_returning_a_label_outside_its_literal() -> None:
    class Declared(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def route(self) -> Literal["yes", "no"]:
            return self.state["answer"]

        @listen("yes")
        def y(self) -> None: ...

        @listen("no")
        def n(self) -> None: ...

    flow = Declared()
    assert flow.kickoff({"answer": "maybe"}) == "maybe"  # the branch ends there
    assert [e.step for e in of_type(flow.events, "StepStarted")] == ["s", "route"]


def _looping(limit: int | None, class_limit: int | None) -> type[Flow[Any]]:
    class Spin(Flow):
        if class_limit is not None:
            max_calls = class_limit

        @start()
        def begin(self) -> None:
            self.state["n"] = 0

        @router(or_(begin, "again"), max_calls=limit)
        def spin(self) -> str:
            self.state["n"] += 1
            if self.state["n"] > 10**9:
                return "done"
            return "again"

        @listen("done")
        def end(self) -> None: ...

    return Spin


@pytest.mark.parametrize(
    ("step_limit", "class_limit", "expected"), [(5, None, 5), (None, 4, 4), (3, 50, 3)]
)
def test_a_runaway_loop_hits_its_call_limit(
    step_limit: int | None, class_limit: int | None, expected: int
) -> None:
    flow = _looping(step_limit, class_limit)()
    with pytest.raises(LoopLimitError) as info:
        flow.kickoff()
    err = info.value
    assert isinstance(err, RunError)
    assert err.flow == "Spin" and err.run_id == flow.run_id
    text = str(err)
    assert "'spin'" in text and f"more than {expected} times" in text
    assert "max_calls" in text and "'Spin'" in text
    spins = [e for e in of_type(flow.events, "StepCompleted") if e.step == "spin"]
    assert len(spins) == expected
    assert flow.state["n"] == expected
    (failed,) = of_type(flow.events, "RunFailed")
    assert failed.error_type == "LoopLimitError" and failed.step == "spin"


def test_a_user_step_error_is_passed_through() -> None:
    class Explicit(Flow):
        @start()
        def go(self) -> None:
            raise StepError("mine", flow="x", run_id="y", step="z", attempt=9)

    with pytest.raises(StepError, match="mine") as info:
        Explicit().kickoff()
    assert info.value.attempt == 9


def test_an_error_message_utf8_cannot_hold_is_stored_escaped_and_the_run_fails(
    tmp_path: Any,
) -> None:
    """A file name decoded with os.fsdecode holds a lone surrogate: the failure must still
    be stored (status failed, not a run left 'running' for a worker to re-run)."""
    import os

    from plait.stores import SqliteStore

    name = os.fsdecode(b"report-\xff.txt")

    class Opens(Flow):
        @start()
        def read(self) -> None:
            raise FileNotFoundError(f"cannot open {name}")

    async def go() -> None:
        store = SqliteStore(tmp_path / "runs.db")
        flow = Opens()
        try:
            with pytest.raises(FileNotFoundError):  # the step's own exception
                await flow.kickoff_async(store=store)
            record = await store.get_run(flow.run_id)
            assert record is not None and record.status == "failed"
            assert "report-\\udcff.txt" in record.error
            types = [type(e).__name__ for e in await store.read(flow.run_id)]
            assert types[-2:] == ["StepFailed", "RunFailed"]
        finally:
            await store.close()

    asyncio.run(go())
