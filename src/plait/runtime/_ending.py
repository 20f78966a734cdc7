"""How a run ends: completed, waiting for a person, failed or cancelled — its last events
stored, its status set, and the caller's result settled, even when the store fails then.

``Ending`` is the part of :class:`~plait.runtime.RunLoop` that ends a run; the loop
decides when.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from plait.core import StoreError
from plait.plan import Plan
from plait.runtime._events import RunCancelled, RunCompleted, RunFailed, RunWaiting
from plait.runtime._input import waiting_error
from plait.runtime._recorder import Recorder


class Ending(Recorder):
    """Ends runs for :class:`~plait.runtime.RunLoop`, which sets these up."""

    plan: Plan
    _finished: bool
    _started: float
    _done: asyncio.Future[Any]
    _main: asyncio.Task[Any] | None
    _inline: bool
    _interrupted: bool

    async def _cancelled(self) -> None:
        """The caller cancelled the run: record it, so the log says how it ended."""
        if self._finished:
            return
        self._finished = True
        self.record(self.new(RunCancelled, reason="cancelled"))
        self._closed = True
        await self.flush()
        await self.store.set_status(self.run_id, "cancelled")

    async def _complete(self, output: Any) -> None:
        if self._finished:
            return
        self._finished = True
        self.record(
            self.new(RunCompleted, output=output, duration=time.perf_counter() - self._started)
        )
        self._closed = True
        problem = await self._flush_last()
        if problem is not None:  # the run did its work, but its log is not all stored
            await self._end_status("failed", str(problem), problem)
            return
        if await self._end_status("completed") and not self._done.done():
            self._done.set_result(output)

    async def _wait(self) -> None:
        """Stop the run until a person answers: it ends here as ``waiting``, resumable."""
        if self._finished:
            return
        self._finished = True
        view = self.view
        self.record(self.new(RunWaiting, steps=tuple(step for step, _ in view.waiting)))
        self._closed = True
        problem = await self._flush_last()
        if problem is not None:
            await self._end_status("failed", str(problem), problem)
            return
        if await self._end_status("waiting") and not self._done.done():
            asks = sorted(view.asks.values(), key=lambda a: a.seq)
            self._done.set_exception(waiting_error(self.plan.name, self.run_id, asks))

    async def _end_status(
        self, status: str, error: str = "", raised: BaseException | None = None
    ) -> bool:
        """Store how the run ended and settle ``_done`` with ``raised`` (if any). When the
        store cannot take the status, the run's caller gets a StoreError at once (its
        lease is given back when the run returns, so no heartbeat keeps it looking alive
        and a worker can take it over). False when the status could not be stored."""
        try:
            await self.store.set_status(self.run_id, status, error=error)
        except Exception as exc:
            failure = StoreError(
                f"{self.plan.kind} {self.plan.name!r}: could not store the end of run {self.run_id} "
                f"(status {status!r}): {exc}; its log is stored, so resume it or let "
                "plait worker finish it"
                + (f" (the run had failed: {error})" if raised is not None else "")
            )
            failure.__cause__ = exc
            if not self._done.done():
                self._done.set_exception(failure)
            return False
        if raised is not None and not self._done.done():
            self._done.set_exception(raised)
        return True

    async def _flush_last(self) -> BaseException | None:
        """Store the run's last events; return the store's error instead of raising it."""
        try:
            await self.flush()
        except Exception as exc:
            return exc
        return None

    async def _fail(self, error: BaseException, step: str) -> None:
        if self._finished:
            return
        self._finished = True
        self.record(
            self.new(RunFailed, error=str(error), error_type=type(error).__name__, step=step)
        )
        self._closed = True
        await self._flush_last()  # a store error here is already the run's error, or lesser
        await self._end_status("failed", str(error), error)
        main = self._main
        if self._inline and main is not None and asyncio.current_task() is not main:
            self._interrupted = True  # stop the step run() is running itself
            main.cancel()
