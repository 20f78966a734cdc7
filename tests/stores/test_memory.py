"""MemoryStore passes the store conformance suite."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from plait.runtime import Store
from plait.stores import MemoryStore
from plait.testing import conformance


class MemoryFactory:
    durable = False

    async def new(self) -> Store:
        return MemoryStore()

    async def reopen(self) -> Store:
        raise NotImplementedError("memory stores keep nothing across objects")


@pytest.mark.parametrize("case", conformance.CASES, ids=lambda c: c.__name__)
def test_memory_store_conforms(
    case: Callable[[conformance.StoreFactory], Awaitable[None]],
) -> None:
    asyncio.run(case(MemoryFactory()))


def test_a_subclass_with_its_own_append_is_called_for_every_batch_of_a_run() -> None:
    """The run loop hands a memory store its batches through append_now (no coroutine);
    a subclass that overrides append (fault injection, a mirror) must still see them."""
    from plait import Flow, StoreError, listen, start
    from plait.runtime import StepCompleted

    seen: list[str] = []

    class Refusing(MemoryStore):
        async def append(self, run_id: str, events: Any) -> None:
            seen.extend(type(e).__name__ for e in events)
            if any(isinstance(e, StepCompleted) and e.step == "first" for e in events):
                raise StoreError("disk full")
            await super().append(run_id, events)

    ran: list[str] = []

    class Chain(Flow):
        @start()
        async def first(self) -> int:
            ran.append("first")
            return 1

        @listen(first)
        async def second(self, x: int) -> int:
            ran.append("second")
            return x + 1

    with pytest.raises(StoreError, match=r"step 'first'.*disk full"):
        Chain().kickoff(store=Refusing())
    assert ran == ["first"]  # nothing that depends on the refused step started
    assert seen[0] == "RunStarted" and "StepCompleted" in seen and seen[-1] == "RunFailed"
