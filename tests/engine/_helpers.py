"""Small helpers for the engine tests."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

HANG_GUARD = 10.0
"""Seconds before a wait that should be immediate is called a hang. Never a pass condition:
a test that reaches it has failed."""


async def meet(barrier: asyncio.Barrier) -> None:
    """Wait at ``barrier``; a step alone at it (no concurrency) fails instead of hanging."""
    async with asyncio.timeout(HANG_GUARD):
        await barrier.wait()


def thread_barrier(parties: int) -> threading.Barrier:
    return threading.Barrier(parties, timeout=HANG_GUARD)


def types(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def of_type(events: list[Any], name: str) -> list[Any]:
    return [e for e in events if type(e).__name__ == name]
