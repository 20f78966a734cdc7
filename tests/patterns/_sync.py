"""Synchronisation helpers that prove overlap without sleeping."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

TIMEOUT = 5.0
"""Seconds a rendezvous waits before it fails the test (it never waits when things overlap)."""


class Rendezvous:
    """An async barrier: ``await arrive()`` returns once ``n`` callers have arrived, and
    raises ``TimeoutError`` if they never do — that is, if they did not run at once."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.arrived = 0
        self._all = asyncio.Event()

    async def arrive(self) -> None:
        self.arrived += 1
        if self.arrived >= self.n:
            self._all.set()
        await asyncio.wait_for(self._all.wait(), TIMEOUT)


class InFlight:
    """Counts calls running at once (thread-safe); ``peak`` is the most seen."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __enter__(self) -> InFlight:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self.now -= 1
