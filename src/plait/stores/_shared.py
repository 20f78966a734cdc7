"""Shared key-value state across processes: the ``SharedState`` role and its common core.

Backends (:class:`~plait.stores.RedisSharedState`,
:class:`~plait.stores.PostgresSharedState`) supply five primitives (load, save, remove,
one optimistic update attempt, listen for changes); this module turns them into the
public API, encodes values with :func:`~plait.runtime.to_json_value`, retries
``update`` on conflict with jittered backoff, and keeps the optional local read cache.

Local cache (``cache=True``): ``get`` is served from memory until the entry is
invalidated. Every write publishes ``"{origin} {key}"`` on the backend's change channel
(Redis pub/sub, PostgreSQL ``NOTIFY``); each process drops the entry when a message from
another origin names it. A global generation counter closes the race between a read in
flight and an invalidation: a value read (or written) before an invalidation arrived is
never put in the cache. While the change listener is not subscribed (at start, after a
dropped connection) the cache is empty and bypassed, so a reader is never served a value
it could have missed an invalidation for. Entries with a TTL also expire locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

from plait.core import StoreError
from plait.runtime import from_json_value, to_json_value

log = logging.getLogger("plait")

_ABSENT = object()


@runtime_checkable
class SharedState(Protocol):
    """An async key-value state shared by every process that opens the same backend."""

    async def get(self, key: str, default: Any = None) -> Any: ...

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None: ...

    async def delete(self, key: str) -> bool: ...

    async def update(
        self, key: str, fn: Callable[[Any], Any], default: Any = None, ttl: float | None = None
    ) -> Any: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Found:
    """A stored value as plain JSON data, and its remaining lifetime in seconds."""

    data: Any
    ttl: float | None = None


class LocalCache:
    """Entries of JSON data by key; ``live`` only while invalidations are being received."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: dict[str, tuple[Any, float | None]] = {}
        self._max = max_entries
        self.generation = 0
        self.live = False

    def lookup(self, key: str) -> tuple[bool, Any]:
        """``(True, data or _ABSENT)`` on a hit, ``(False, None)`` on a miss."""
        if not self.live or key not in self._entries:
            return False, None
        data, deadline = self._entries[key]
        if deadline is not None and time.monotonic() >= deadline:
            del self._entries[key]
            return False, None
        return True, data

    def fill(self, generation: int, key: str, data: Any, ttl: float | None) -> None:
        """Cache ``data`` (read or written when the counter was ``generation``) unless an
        invalidation arrived since; then drop the key instead."""
        if not self.live or generation != self.generation:
            self._entries.pop(key, None)
            return
        if len(self._entries) >= self._max and key not in self._entries:
            del self._entries[next(iter(self._entries))]  # oldest first
        self._entries[key] = (data, None if ttl is None else time.monotonic() + ttl)

    def invalidate(self, key: str) -> None:
        self.generation += 1
        self._entries.pop(key, None)

    def set_live(self, live: bool) -> None:
        self.generation += 1
        self._entries.clear()
        self.live = live


class SharedStateBase(ABC):
    """The public API over a backend's primitives (see the module docstring)."""

    def __init__(self, *, cache: bool, max_attempts: int, connect_timeout: float) -> None:
        if max_attempts < 1:
            raise StoreError(f"max_attempts must be at least 1, not {max_attempts}")
        self.max_attempts = max_attempts
        self._origin = uuid.uuid4().hex
        self._cache = LocalCache() if cache else None
        self._timeout = connect_timeout
        self._open_lock = asyncio.Lock()
        self._opened = False
        self._closed = False
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    # -- backend primitives -------------------------------------------------------------

    @abstractmethod
    async def _connect(self) -> None: ...

    @abstractmethod
    async def _disconnect(self) -> None: ...

    @abstractmethod
    async def _load(self, key: str) -> Found | None: ...

    @abstractmethod
    async def _save(self, key: str, data: Any, ttl: float | None, message: str) -> None: ...

    @abstractmethod
    async def _remove(self, key: str, message: str) -> bool: ...

    @abstractmethod
    async def _try_update(
        self,
        key: str,
        compute: Callable[[Found | None], Any],
        ttl: float | None,
        message: str,
    ) -> Found | None:
        """One optimistic attempt: the new value and its TTL, or None on a conflict. With
        ``ttl=None`` a live key keeps its remaining TTL."""

    @abstractmethod
    async def _listen(self, ready: Callable[[], None], changed: Callable[[str], None]) -> None:
        """Subscribe to the change channel, call ``ready`` once subscribed, then
        ``changed(message)`` for each message; return or raise when the connection ends."""

    # -- lifecycle ------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (and, with the cache, subscribe to changes); called by the first use."""
        if self._closed:
            raise StoreError(f"this {type(self).__name__} is closed; open a new one")
        async with self._open_lock:
            if self._opened:
                return
            await self._connect()
            if self._cache is not None:
                self._listener = asyncio.create_task(self._listen_forever())
                try:  # without a subscription the cache stays bypassed: slower, not stale
                    await asyncio.wait_for(self._subscribed.wait(), self._timeout)
                except TimeoutError:
                    log.warning("%s: change listener not subscribed yet", type(self).__name__)
            self._opened = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        if self._opened:
            await self._disconnect()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _listen_forever(self) -> None:
        cache = self._cache
        if cache is None:  # pragma: no cover - only started with a cache
            return
        delay = 0.1

        def ready() -> None:
            nonlocal delay
            delay = 0.1
            cache.set_live(True)
            self._subscribed.set()

        while not self._closed:  # not only the cancel: a driver may swallow it
            try:
                await self._listen(ready, self._changed)
            except Exception as exc:  # driver errors too: the listener must not die silently
                if self._closing():  # a cancel at close that the driver made an error
                    return
                log.warning("%s: change listener lost (%r); retrying", type(self).__name__, exc)
            self._subscribed.clear()
            cache.set_live(False)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 5.0)

    def _closing(self) -> bool:
        return self._closed

    def _changed(self, message: str) -> None:
        origin, _, key = message.partition(" ")
        if origin != self._origin and self._cache is not None:
            self._cache.invalidate(key)

    def _message(self, key: str) -> str:
        return f"{self._origin} {key}"

    # -- the API ----------------------------------------------------------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` when it is absent or expired."""
        await self.open()
        cache = self._cache
        if cache is not None:
            hit, data = cache.lookup(key)
            if hit:
                return default if data is _ABSENT else from_json_value(data)
        generation = cache.generation if cache is not None else 0
        found = await self._load(key)
        if cache is not None:
            cache.fill(
                generation,
                key,
                _ABSENT if found is None else found.data,
                None if found is None else found.ttl,
            )
        return default if found is None else from_json_value(found.data)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (JSON-serialisable, see ``to_json_value``); ``ttl`` in seconds,
        ``None`` for no expiry."""
        _check_ttl(ttl)
        data = to_json_value(value, f"shared state {key!r}")
        await self.open()
        generation = self._cache.generation if self._cache is not None else 0
        await self._save(key, data, ttl, self._message(key))
        if self._cache is not None:
            self._cache.fill(generation, key, data, ttl)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True if it was there (and not expired)."""
        await self.open()
        generation = self._cache.generation if self._cache is not None else 0
        deleted = await self._remove(key, self._message(key))
        if self._cache is not None:
            self._cache.fill(generation, key, _ABSENT, None)
        return deleted

    async def update(
        self, key: str, fn: Callable[[Any], Any], default: Any = None, ttl: float | None = None
    ) -> Any:
        """Atomically replace the value with ``fn(old)`` (``old`` is ``default`` when the key
        is absent) and return the new value.

        Optimistic: when another writer changed the key meanwhile, ``fn`` runs again on
        the newer value, so it must have no side effects. After ``max_attempts`` conflicts
        in a row a :class:`StoreError` reports the contention. ``ttl=None`` keeps the
        key's remaining TTL; a number sets a new one.
        """
        _check_ttl(ttl)
        where = f"shared state {key!r}"

        def compute(found: Found | None) -> Any:
            old = default if found is None else from_json_value(found.data)
            return to_json_value(fn(old), where)

        await self.open()
        for attempt in range(self.max_attempts):
            generation = self._cache.generation if self._cache is not None else 0
            written = await self._try_update(key, compute, ttl, self._message(key))
            if written is not None:
                if self._cache is not None:
                    self._cache.fill(generation, key, written.data, written.ttl)
                return from_json_value(written.data)
            await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))
        raise StoreError(
            f"{where}: update gave up after {self.max_attempts} attempts because other "
            "writers kept changing the key (contention); retry later, raise max_attempts, "
            "or spread the writes over more keys"
        )


def _check_ttl(ttl: float | None) -> None:
    if ttl is not None and not ttl > 0:
        raise StoreError(f"ttl must be a positive number of seconds or None, not {ttl!r}")
