"""``RedisSharedState``: shared key-value state on a Redis server (``plait[redis]``).

Keys: ``{prefix}:shared:{key}`` holds the value as JSON text, with the TTL as the key's
own expiry (``SET ... PX``). ``update`` is ``WATCH`` / ``GET`` / ``MULTI`` / ``SET`` /
``EXEC``: ``EXEC`` fails when another client wrote the key after the ``WATCH`` and the
attempt is retried. Every write also ``PUBLISH``es ``"{origin} {key}"`` on
``{prefix}:shared:changed`` inside the same transaction, for the local caches.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from plait.core import StoreError, require_extra
from plait.stores._redis_errors import _safe_url, redis_errors_explained
from plait.stores._shared import Found, SharedStateBase

if TYPE_CHECKING:
    import redis.asyncio as aioredis
    import redis.exceptions as redis_errors
else:
    aioredis = require_extra("redis.asyncio", "redis", feature="RedisSharedState")
    redis_errors = require_extra("redis.exceptions", "redis", feature="RedisSharedState")


class RedisSharedState(SharedStateBase):
    """Shared state on Redis; see :class:`~plait.stores._shared.SharedStateBase` for the API.

    Nothing connects until the first call (or ``open()`` / ``async with``); an unreachable
    server fails that call with a :class:`StoreError`.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "plait",
        cache: bool = False,
        max_attempts: int = 100,
        connect_timeout: float = 2.0,
    ) -> None:
        super().__init__(cache=cache, max_attempts=max_attempts, connect_timeout=connect_timeout)
        self.url = url
        self.prefix = prefix
        self._channel = f"{prefix}:shared:changed"
        try:
            self._client = aioredis.Redis.from_url(
                url, decode_responses=True, socket_connect_timeout=connect_timeout
            )
        except ValueError as exc:
            raise StoreError(
                f"bad Redis URL {_safe_url(url)!r}: {exc}; use redis://host:port/db"
            ) from None

    def _key(self, key: str) -> str:
        return f"{self.prefix}:shared:{key}"

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """redis-py's errors as StoreErrors; a WatchError goes through (update retries)."""
        with redis_errors_explained(self.url, what, passing=(redis_errors.WatchError,)):
            yield

    async def _connect(self) -> None:
        with self._guard("connect"):
            await self._client.ping()  # type: ignore[misc, unused-ignore]  # typed in redis 8

    async def _disconnect(self) -> None:
        await self._client.aclose()

    async def _load(self, key: str) -> Found | None:
        with self._guard(f"read shared state {key!r}"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.get(self._key(key))
                pipe.pttl(self._key(key))
                raw, pttl = await pipe.execute()
        return None if raw is None else _found(raw, pttl)

    async def _save(self, key: str, data: Any, ttl: float | None, message: str) -> None:
        with self._guard(f"write shared state {key!r}"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self._key(key), _dumps(data), px=_ms(ttl))
                pipe.publish(self._channel, message)
                await pipe.execute()

    async def _remove(self, key: str, message: str) -> bool:
        with self._guard(f"delete shared state {key!r}"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(key))
                pipe.publish(self._channel, message)
                deleted, _ = await pipe.execute()
        return bool(deleted)

    async def _try_update(
        self,
        key: str,
        compute: Callable[[Found | None], Any],
        ttl: float | None,
        message: str,
    ) -> Found | None:
        name = self._key(key)
        with self._guard(f"update shared state {key!r}"):
            async with self._client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(name)
                    raw = cast("str | None", await pipe.get(name))  # decode_responses
                    pttl = await pipe.pttl(name)
                    old = None if raw is None else _found(raw, pttl)
                    data = compute(old)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if ttl is None:
                        pipe.set(name, _dumps(data), keepttl=True)
                    else:
                        pipe.set(name, _dumps(data), px=_ms(ttl))
                    pipe.publish(self._channel, message)
                    await pipe.execute()
                except redis_errors.WatchError:
                    return None
        return Found(data, ttl if ttl is not None or old is None else old.ttl)

    async def _listen(self, ready: Callable[[], None], changed: Callable[[str], None]) -> None:
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            async for msg in pubsub.listen():
                if msg["type"] == "subscribe":
                    ready()
                elif msg["type"] == "message":
                    changed(str(msg["data"]))
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed in redis 8.2


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _ms(ttl: float | None) -> int | None:
    return None if ttl is None else max(1, round(ttl * 1000))


def _found(raw: str, pttl: int) -> Found:
    try:
        data = json.loads(raw)
    except ValueError:
        raise StoreError(f"a shared state value in Redis is not JSON: {raw[:80]!r}") from None
    return Found(data, pttl / 1000 if pttl > 0 else None)
