"""One SDK client per event loop: a client's connections belong to the loop that opened
them, and each blocking ``kickoff()`` runs its own loop. A client made with
``close_at_shutdown`` is closed when its loop shuts its async generators down (the end of
``asyncio.run``), so an aiohttp session never outlives its loop."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C")


class LoopClients(Generic[C]):
    """The client of the running event loop, made by ``make`` on first use there."""

    def __init__(self) -> None:
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = (
            weakref.WeakKeyDictionary()
        )
        self._closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncIterator[None]] = (
            weakref.WeakKeyDictionary()
        )
        self._starting: set[asyncio.Future[None]] = set()

    def get(self, make: Callable[[], C], *, close_at_shutdown: bool = False) -> C:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = make()
            if close_at_shutdown:
                self._closers[loop] = closer = _closing(client)  # held: GC would close it
                started = asyncio.ensure_future(anext(closer))
                self._starting.add(started)
                started.add_done_callback(self._starting.discard)
        return client

    async def close(self) -> None:
        """Close the running loop's client, if it has one."""
        client: Any = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()


async def _closing(client: Any) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await client.close()
