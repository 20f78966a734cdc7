"""MemoryStore passes the store conformance suite."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

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
