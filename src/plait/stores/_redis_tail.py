"""``RedisStore.tail``: Redis pub/sub tells a follower when to read again.

The append script publishes on a channel named like the run's events stream, the
status script on one named like the run's hash (channels are not keys: nothing is
stored under those names). A follower subscribes to both before it first reads, so it
misses nothing, and reads the events from the stream itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from plait.runtime import Event
from plait.stores._tail import SAFETY_POLL_S, follow

if TYPE_CHECKING:
    from plait.stores._redis import RedisStore


async def tail(
    store: RedisStore, client: Any, run_key: str, events_key: str, run_id: str, after_seq: int
) -> AsyncIterator[Event]:
    """See :meth:`RedisStore.tail` (``client``: the store's ``redis.asyncio.Redis``)."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)

    async def status(_: str) -> str | None:
        found = await client.hget(run_key, "status")
        if found is not None:
            return str(found)
        return None if not await client.exists(run_key) else ""

    async def wait(timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if await pubsub.get_message(timeout=left) is not None:
                return

    try:
        await pubsub.subscribe(run_key, events_key)
        async for event in follow(
            store,
            run_id,
            after_seq,
            wait=wait,
            status=status,
            first=SAFETY_POLL_S,
            most=SAFETY_POLL_S,
        ):
            yield event
    finally:
        await pubsub.aclose()
