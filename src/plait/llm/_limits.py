"""Keeping a provider healthy: how many calls at once, and per minute (requests, tokens).

``Limits`` is shared by every :class:`~plait.llm.Model` of one provider and endpoint, so
that many steps and agents calling one server together stay within its limits.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Limits:
    """``concurrency``: calls in flight at once; ``rpm``/``tpm``: requests and tokens per
    rolling minute (None: no limit). Token use is counted when each call returns."""

    concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    _slots: threading.Semaphore | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _starts: deque[float] = field(default_factory=deque, init=False, repr=False)
    _tokens: deque[tuple[float, int]] = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("concurrency", "rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be 1 or more, or None; got {value}")

    async def acquire(self) -> None:
        """Wait for a free slot and room in the per-minute budgets."""
        if self.concurrency is not None:
            # A thread semaphore: calls come from several event loops (each blocking
            # kickoff() in a def step runs its own), which an asyncio one cannot span.
            with self._lock:
                if self._slots is None:
                    self._slots = threading.Semaphore(self.concurrency)
                slots = self._slots
            delay = 0.0005
            while not slots.acquire(blocking=False):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.02)
        try:
            await self._pace()
        except BaseException:
            self.release(0)
            raise

    async def _pace(self) -> None:
        while True:
            with self._lock:
                wait = self._room(time.monotonic())
            if wait is None:
                return
            await asyncio.sleep(max(0.001, wait))

    def _room(self, now: float) -> float | None:
        """Record a start and return None when the budgets allow one now; else how long
        to wait."""
        while self._starts and now - self._starts[0] >= 60:
            self._starts.popleft()
        while self._tokens and now - self._tokens[0][0] >= 60:
            self._tokens.popleft()
        waits = []
        if self.rpm is not None and len(self._starts) >= self.rpm:
            waits.append(60 - (now - self._starts[0]))
        if self.tpm is not None and sum(n for _, n in self._tokens) >= self.tpm:
            waits.append(60 - (now - self._tokens[0][0]))
        if not waits:
            self._starts.append(now)
            return None
        return min(waits)

    def release(self, tokens: int) -> None:
        """A call ended having used ``tokens``."""
        with self._lock:
            if tokens and self.tpm is not None:
                self._tokens.append((time.monotonic(), tokens))
            slots = self._slots
        if slots is not None:
            slots.release()
