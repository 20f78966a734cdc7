"""How a run ends: completed, waiting for a person, failed or cancelled — its last events
stored, its status set, and the caller's result settled, even when the store fails then.

:class:`RunEnd` is the run loop's collaborator for that: it owns whether the run has
ended (``finished``) and the caller's result (``done``); the loop decides when.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from plait.core import StoreError
from plait.plan import Plan
from plait.runtime._events import RunCancelled, RunCompleted, RunFailed, RunWaiting
from plait.runtime._failures import error_text
from plait.runtime._input import waiting_error
from plait.runtime._recorder import Recorder


class RunEnd:
    """Ends one run: records its last event, stores its status, settles ``done``."""

    def __init__(self, rec: Recorder, plan: Plan, interrupt: Callable[[], None]) -> None:
        self.rec = rec
        self.plan = plan
        self.run_id = rec.run_id
        self._interrupt = interrupt
        """Stop the step the run's own coroutine is running (the loop knows which)."""
        self.finished = False
        """The run has ended (or stopped): nothing more starts."""
        self.started = 0.0
        """``time.perf_counter()`` when the run (or this resume of it) began."""
        self.done: asyncio.Future[Any] = rec.aio.create_future()
        """The run's result or error, for whoever awaits the run."""

    async def cancelled(self) -> None:
        """The caller cancelled the run: record it, so the log says how it ended."""
        if self.finished:
            return
        self.finished = True
        rec = self.rec
        rec.record(rec.new(RunCancelled, reason="cancelled"))
        rec.close()
        await rec.flush()
        await rec.store.set_status(self.run_id, "cancelled")

    async def complete(self, output: Any) -> None:
        if self.finished:
            return
        self.finished = True
        rec = self.rec
        rec.record(
            rec.new(RunCompleted, output=output, duration=time.perf_counter() - self.started)
        )
        rec.close()
        problem = await self._flush_last()
        if problem is not None:  # the run did its work, but its log is not all stored
            await self._end_status("failed", str(problem), problem)
            return
        if await self._end_status("completed") and not self.done.done():
            self.done.set_result(output)

    async def wait(self) -> None:
        """Stop the run until a person answers: it ends here as ``waiting``, resumable."""
        if self.finished:
            return
        self.finished = True
        rec = self.rec
        view = rec.view
        rec.record(rec.new(RunWaiting, steps=tuple(step for step, _ in view.waiting)))
        rec.close()
        problem = await self._flush_last()
        if problem is not None:
            await self._end_status("failed", str(problem), problem)
            return
        if await self._end_status("waiting") and not self.done.done():
            asks = sorted(view.asks.values(), key=lambda a: a.seq)
            self.done.set_exception(waiting_error(self.plan.name, self.run_id, asks))

    async def fail(self, error: BaseException, step: str) -> None:
        if self.finished:
            return
        self.finished = True
        rec = self.rec
        text = error_text(str(error))
        rec.record(rec.new(RunFailed, error=text, error_type=type(error).__name__, step=step))
        rec.close()
        await self._flush_last()  # a store error here is already the run's error, or lesser
        await self._end_status("failed", text, error)
        self._interrupt()

    def stop(self, cause: BaseException, error: BaseException) -> None:
        """End here without storing anything more, since another process may own the run
        now (``cause``: why); the caller gets ``error``."""
        if self.finished:
            return
        self.finished = True
        self.rec.abandon(cause)
        if not self.done.done():
            self.done.set_exception(error)
        self._interrupt()

    async def _end_status(
        self, status: str, error: str = "", raised: BaseException | None = None
    ) -> bool:
        """Store how the run ended and settle ``done`` with ``raised`` (if any). When the
        store cannot take the status, the run's caller gets a StoreError at once (its
        lease is given back when the run returns, so no heartbeat keeps it looking alive
        and a worker can take it over). False when the status could not be stored."""
        try:
            await self.rec.store.set_status(self.run_id, status, error=error)
        except Exception as exc:
            failure = StoreError(
                f"{self.plan.kind} {self.plan.name!r}: could not store the end of run "
                f"{self.run_id} (status {status!r}): {exc}; its log is stored, so resume it "
                "or let plait worker finish it"
                + (f" (the run had failed: {error})" if raised is not None else "")
            )
            failure.__cause__ = exc
            if not self.done.done():
                self.done.set_exception(failure)
            return False
        if raised is not None and not self.done.done():
            self.done.set_exception(raised)
        return True

    async def _flush_last(self) -> BaseException | None:
        """Store the run's last events; return the store's error instead of raising it."""
        try:
            if not self.rec.flush_now():
                await self.rec.flush()
        except Exception as exc:
            return exc
        return None
