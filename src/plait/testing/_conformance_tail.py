"""Conformance cases for following a run live (``Store.tail``, or :func:`plait.stores.tail`
for a store without it).

The writer is a second store object on the same location (``factory.reopen()``: another
connection, as another process would have) for durable stores, the same object for an
in-memory one. Waits are bounded, so a tail that never ends fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from plait.core import StoreError
from plait.runtime import Event, Store
from plait.stores import tail
from plait.testing._conformance_base import StoreFactory, _events, _expect_store_error, _record

LIMIT_S = 30.0
"""The longest a case waits for a tail before failing."""


async def _writer(factory: StoreFactory, store: Store) -> Store:
    return await factory.reopen() if factory.durable else store


async def _collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


def _seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


async def tail_follows_a_live_run_step_by_step(factory: StoreFactory) -> None:
    """Each batch reaches the follower before the next is written; it ends with the run."""
    store = await factory.new()
    writer = await _writer(factory, store)
    try:
        await store.create_run(_record("r1"))
        got: list[Event] = []
        seen: dict[int, asyncio.Event] = {seq: asyncio.Event() for seq in range(1, 13)}

        async def follow() -> None:
            async for event in tail(store, "r1"):
                got.append(event)
                if event.seq in seen:
                    seen[event.seq].set()

        reader = asyncio.create_task(follow())
        async with asyncio.timeout(LIMIT_S):
            for start in (1, 4, 7, 10):
                await writer.append("r1", _events("r1", start, 3))
                await seen[start + 2].wait()  # delivered while the run goes on
            assert not reader.done()
            await writer.set_status("r1", "completed")
            await reader
        assert _seqs(got) == list(range(1, 13))
        assert got == _events("r1", 1, 12)
    finally:
        if writer is not store:
            await writer.close()
        await store.close()


async def tail_keeps_up_with_a_fast_writer(factory: StoreFactory) -> None:
    """Batches written without waiting all arrive, in order, once each; two followers
    (one from the start, one after seq 7) each get their part."""
    store = await factory.new()
    writer = await _writer(factory, store)
    try:
        await store.create_run(_record("r1"))
        await store.create_run(_record("other"))
        whole = asyncio.create_task(_collect(tail(store, "r1")))
        later = asyncio.create_task(_collect(tail(store, "r1", after_seq=7)))
        async with asyncio.timeout(LIMIT_S):
            for start in range(1, 121, 4):
                await writer.append("r1", _events("r1", start, 4))
                await writer.append("other", _events("other", start, 4))
                await asyncio.sleep(0)  # let the followers run between batches
            await writer.set_status("r1", "failed", error="boom")
            first, second = await whole, await later
        assert _seqs(first) == list(range(1, 121))
        assert _seqs(second) == list(range(8, 121))
        assert all(e.run_id == "r1" for e in first)
    finally:
        if writer is not store:
            await writer.close()
        await store.close()


async def tail_of_a_finished_run_returns_its_log_and_ends(factory: StoreFactory) -> None:
    """A tail started after the end gives the stored events (after ``after_seq``) and
    ends; so for every final status. A waiting run's tail does not end."""
    store = await factory.new()
    try:
        for status in ("completed", "failed", "cancelled"):
            await store.create_run(_record(status))
            await store.append(status, _events(status, 1, 5))
            await store.set_status(status, status)
            async with asyncio.timeout(LIMIT_S):
                assert await _collect(tail(store, status)) == _events(status, 1, 5)
                assert _seqs(await _collect(tail(store, status, after_seq=3))) == [4, 5]
                assert await _collect(tail(store, status, after_seq=5)) == []
        await store.create_run(_record("waits"))
        await store.append("waits", _events("waits", 1, 2))
        await store.set_status("waits", "waiting")
        both = asyncio.Event()

        async def follow() -> None:
            async for event in tail(store, "waits"):
                if event.seq == 2:
                    both.set()

        reader = asyncio.create_task(follow())
        async with asyncio.timeout(LIMIT_S):
            await both.wait()
        assert not reader.done()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    finally:
        await store.close()


async def tail_of_unknown_run_is_refused(factory: StoreFactory) -> None:
    store = await factory.new()
    try:
        async with asyncio.timeout(LIMIT_S):
            error = await _expect_store_error(_collect(tail(store, "nope")))
        assert isinstance(error, StoreError) and "nope" in str(error)
    finally:
        await store.close()
