"""``RedisStore``: runs and their event logs on a Redis server (``plait[redis]``).

Keys, all under ``prefix`` (default ``plait``):

- ``{prefix}:run:{run_id}``: a hash with the run's record (``inputs`` and ``plan`` as
  JSON in the value codec's ``format``, times as ``repr`` floats so they round-trip
  exactly). The run's ``RunStarted`` refers to these inputs rather than repeat them.
- ``{prefix}:events:{run_id}``: a stream with one entry per event, id ``{seq}-0`` and one
  field ``e`` holding :func:`~plait.runtime.dumps_event`'s JSON. A stream rather than a
  list or sorted set: it is Redis's append-only log type (compact, never rewritten), its
  ids are the ``seq`` numbers, so ``read(after=n)`` is one ``XRANGE`` from ``n+1`` and
  the last stored ``seq`` is one ``XREVRANGE ... COUNT 1``, and Redis itself refuses an
  id that does not follow the last one.
- ``{prefix}:runs``: a sorted set of run ids scored by ``created_at``; ``list_runs`` walks
  it newest first (``since``/``before`` as score bounds) and filters ``flow``/``status``
  on the records (no per-flow or per-status index sets yet: fine for thousands of runs,
  add index sets when listings of big stores need them).
- ``{prefix}:cache:{key}``: a string with one cached value, as JSON
  ``{"value": ..., "created_at": ..., "expires_at": ...}``, set with a Redis expiry when it
  has a ttl (and checked against ``expires_at`` on read, so expiry follows the caller's
  clock to the microsecond, like the other stores).

Pub/sub channels (not keys) for followers (:meth:`RedisStore.tail`): the append script
publishes the batch's last ``seq`` on ``{prefix}:events:{run_id}``, the status script the
new status on ``{prefix}:run:{run_id}``.

A run's lease is two fields of its hash (``owner``, ``lease_until``), so it goes with the
run; ``acquire`` is one script, hence atomic across processes.

Every write is one Lua script (or one ``MULTI``), so a reader never sees half of it, and
``append`` checks the order and writes the whole batch in the same script: an
out-of-order batch stores nothing, and appends to different runs never interfere.
Scripts touch keys of one run plus the index, so Redis Cluster is not supported.

Durability: this store is exactly as durable as the Redis server's persistence settings
(``appendonly yes`` with ``appendfsync everysec`` loses at most a second; the development
machines run Redis with no persistence at all, so a server restart loses every run).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from plait.core import StoreError, require_extra
from plait.runtime import (
    CacheEntry,
    Event,
    RunRecord,
    decode_event,
    dumps_event,
    needs_run_inputs,
    parse_event,
)
from plait.runtime.ports import PRUNABLE, prunable_statuses, select_prunable
from plait.stores._order import check_order
from plait.stores._redis_errors import _safe_url, redis_errors_explained
from plait.stores._redis_records import (
    decode_cache_entry,
    decode_record,
    encode_cache_entry,
    encode_record,
    flatten,
    lua_float,
)
from plait.stores._redis_scripts import ACQUIRE, APPEND, CREATE, PRUNE, RELEASE, SET_STATUS
from plait.stores._redis_tail import tail as _tail
from plait.stores._values import (
    FreshInputs,
    check_lease,
    expires_at,
    listed_record,
    read_record,
)

if TYPE_CHECKING:
    import redis.asyncio as aioredis
else:
    aioredis = require_extra("redis.asyncio", "redis", feature="RedisStore")


class RedisStore:
    """Keeps runs and events on a Redis server (see the module docstring for the keys).

    As durable as the server's persistence settings: with no persistence (as on the
    development machines) a Redis restart loses every run. Nothing connects until the
    first call; an unreachable server fails that call with a :class:`StoreError`.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "plait",
        connect_timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        try:
            self._client = aioredis.Redis.from_url(
                url, decode_responses=True, socket_connect_timeout=connect_timeout
            )
        except ValueError as exc:
            raise StoreError(
                f"bad Redis URL {_safe_url(url)!r}: {exc}; use redis://host:port/db"
            ) from None
        self._create = self._client.register_script(CREATE)
        self._append = self._client.register_script(APPEND)
        self._set_status = self._client.register_script(SET_STATUS)
        self._prune = self._client.register_script(PRUNE)
        self._acquire = self._client.register_script(ACQUIRE)
        self._release = self._client.register_script(RELEASE)
        self._closed = False
        self._fresh = FreshInputs()

    def _run_key(self, run_id: str) -> str:
        return f"{self.prefix}:run:{run_id}"

    def _events_key(self, run_id: str) -> str:
        return f"{self.prefix}:events:{run_id}"

    def _cache_key(self, key: str) -> str:
        return f"{self.prefix}:cache:{key}"

    @property
    def _runs_key(self) -> str:
        return f"{self.prefix}:runs"

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn redis-py's errors into StoreErrors that say what to check."""
        if self._closed:
            raise StoreError(f"this RedisStore ({_safe_url(self.url)}) is closed; open a new one")
        with redis_errors_explained(self.url, what):
            yield

    async def create_run(self, record: RunRecord) -> None:
        fields = encode_record(record)
        with self._guard(f"create run {record.run_id}"):
            created = await self._create(
                keys=[self._run_key(record.run_id), self._runs_key],
                args=[record.run_id, repr(record.created_at), *flatten(fields)],
            )
        if not created:
            raise StoreError(f"run {record.run_id} already exists in this store")
        self._fresh.created(record.run_id, record.inputs)

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        check_order(run_id, 0, events)
        args: list[str | int] = []
        kept = self._fresh.kept_with_run(run_id, events)
        for i, event in enumerate(events):  # serialise first: a bad value fails before
            args += [event.seq, dumps_event(event, inputs_in_run=kept and i == 0)]  # sending
        with self._guard(f"append to run {run_id}"):
            result = await self._append(
                keys=[self._run_key(run_id), self._events_key(run_id)], args=args
            )
        if result[0] == -1:
            raise StoreError(f"run {run_id} is not in this store; create it first")
        if result[0] == 0:
            check_order(run_id, int(result[1]), events)  # raises, naming the seqs
        self._fresh.stored(run_id, events)

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None:
        with self._guard(f"set the status of run {run_id}"):
            found = await self._set_status(
                keys=[self._run_key(run_id)], args=[status, error, repr(time.time())]
            )
        if not found:
            raise StoreError(f"run {run_id} is not in this store")

    async def get_run(self, run_id: str) -> RunRecord | None:
        with self._guard(f"read run {run_id}"):
            raw = await self._client.hgetall(self._run_key(run_id))  # type: ignore[misc, unused-ignore]
        fields = cast("dict[str, str]", raw)  # decode_responses=True: keys and values are str
        if not fields:
            return None
        return read_record("Redis", run_id, lambda: decode_record(run_id, fields))

    async def list_runs(
        self,
        *,
        flow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        since: float | None = None,
        before: float | None = None,
    ) -> list[RunRecord]:
        out: list[RunRecord] = []
        page = limit if flow is None and status is None else max(limit, 200)
        newest = "+inf" if before is None else f"({before!r}"  # created_at < before
        oldest = "-inf" if since is None else repr(since)
        start = 0
        while len(out) < limit and page > 0:
            with self._guard("list runs"):
                ids = cast(
                    "list[str]",
                    await self._client.zrevrangebyscore(
                        self._runs_key, newest, oldest, start=start, num=page
                    ),
                )
                if not ids:
                    break
                async with self._client.pipeline(transaction=False) as pipe:
                    for run_id in ids:
                        pipe.hgetall(self._run_key(run_id))
                    rows: list[dict[str, str]] = await pipe.execute()
            for run_id, fields in zip(ids, rows, strict=True):
                if not fields:  # deleted since the index was read
                    continue
                record = listed_record(
                    "Redis",
                    run_id,
                    fields.get("flow"),
                    partial(decode_record, run_id, fields),
                )
                if (flow is None or record.flow == flow) and (
                    status is None or record.status == status
                ):
                    out.append(record)
            start += page
        return out[:limit]

    async def read(self, run_id: str, *, after: int = 0) -> list[Event]:
        with self._guard(f"read the events of run {run_id}"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.exists(self._run_key(run_id))
                pipe.xrange(self._events_key(run_id), min=f"{max(after, 0) + 1}-0", max="+")
                exists, entries = await pipe.execute()
        if not exists:
            raise StoreError(f"run {run_id} is not in this store")
        parsed: list[tuple[str, dict[str, Any]]] = []
        for entry_id, entry in entries:
            seq = entry_id.partition("-")[0]
            try:
                parsed.append((seq, parse_event(entry["e"])))
            except (StoreError, KeyError) as exc:
                raise self._unreadable(run_id, seq, exc) from None
        inputs = None
        if parsed and needs_run_inputs(parsed[0][1]):
            record = await self.get_run(run_id)
            inputs = None if record is None else record.inputs
        events: list[Event] = []
        for seq, data in parsed:
            try:
                events.append(decode_event(data, inputs))
            except (StoreError, TypeError, ValueError) as exc:
                raise self._unreadable(run_id, seq, exc) from None
        return events

    async def tail(self, run_id: str, *, after_seq: int = 0) -> AsyncIterator[Event]:
        """The run's events after ``after_seq`` as any process appends them, until it
        ends (see :mod:`plait.stores._tail`), woken by pub/sub
        (:mod:`plait.stores._redis_tail`)."""
        with self._guard(f"follow run {run_id}"):
            followed = _tail(
                self,
                self._client,
                self._run_key(run_id),
                self._events_key(run_id),
                run_id,
                after_seq,
            )
            async for event in followed:
                yield event

    def _unreadable(self, run_id: str, seq: str, exc: Exception) -> StoreError:
        return StoreError(
            f"run {run_id}: stored event #{seq} cannot be read ({exc}); the log in "
            f"Redis key {self._events_key(run_id)!r} is corrupted"
        )

    async def delete_run(self, run_id: str) -> bool:
        self._fresh.forget(run_id)
        with self._guard(f"delete run {run_id}"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(self._run_key(run_id))
                pipe.delete(self._events_key(run_id))
                pipe.zrem(self._runs_key, run_id)
                deleted, _, _ = await pipe.execute()
        return bool(deleted)

    async def prune(
        self,
        *,
        older_than: float | None = None,
        keep_latest: int | None = None,
        flow: str | None = None,
        statuses: Sequence[str] = PRUNABLE,
        dry_run: bool = False,
    ) -> int:
        """Walk the runs index in pages, pick in Python, delete each run in one script
        (which checks the status again, so a run resumed meanwhile stays)."""
        fields = ("flow", "status", "created_at", "updated_at")
        rows: list[tuple[str, str, str, float, float]] = []
        page = 1000
        start = 0
        while True:
            with self._guard("list runs to prune"):
                ids = cast(
                    "list[str]",
                    await self._client.zrange(self._runs_key, start, start + page - 1),
                )
                if not ids:
                    break
                async with self._client.pipeline(transaction=False) as pipe:
                    for run_id in ids:
                        pipe.hmget(self._run_key(run_id), list(fields))
                    found: list[list[str | None]] = await pipe.execute()
            for run_id, (run_flow, status, created, updated) in zip(ids, found, strict=True):
                if run_flow is None or status is None:  # deleted since the index was read
                    continue
                try:
                    rows.append(
                        (run_id, run_flow, status, float(created or 0), float(updated or 0))
                    )
                except ValueError:
                    raise StoreError(
                        f"the record of run {run_id} in Redis is corrupted (bad times); "
                        "delete the run"
                    ) from None
            start += page
        doomed = select_prunable(
            rows, older_than=older_than, keep_latest=keep_latest, flow=flow, statuses=statuses
        )
        if dry_run or not doomed:
            return len(doomed)
        wanted = prunable_statuses(statuses, keep_latest)
        deleted = 0
        for i in range(0, len(doomed), page):
            with self._guard("prune runs"):
                async with self._client.pipeline(transaction=False) as pipe:
                    for run_id in doomed[i : i + page]:
                        keys = [self._run_key(run_id), self._events_key(run_id), self._runs_key]
                        await self._prune(keys=keys, args=[run_id, *wanted], client=pipe)
                    results: list[int] = await pipe.execute()
            deleted += sum(int(r) for r in results)
        return deleted

    async def acquire(self, run_id: str, owner: str, ttl: float, *, replace: str = "") -> bool:
        check_lease(owner, ttl)
        now = time.time()
        with self._guard(f"acquire the lease of run {run_id}"):
            taken = await self._acquire(
                keys=[self._run_key(run_id)],
                args=[owner, lua_float(now), lua_float(now + ttl), replace or owner],
            )
        if taken == -1:
            raise StoreError(f"run {run_id} is not in this store")
        return bool(taken)

    async def release(self, run_id: str, owner: str) -> None:
        with self._guard(f"release the lease of run {run_id}"):
            found = await self._release(keys=[self._run_key(run_id)], args=[owner])
        if found == -1:
            raise StoreError(f"run {run_id} is not in this store")

    async def cache_get(self, key: str) -> CacheEntry | None:
        with self._guard(f"read cache key {key!r}"):
            raw = cast("str | None", await self._client.get(self._cache_key(key)))
        return None if raw is None else decode_cache_entry(key, raw, time.time())

    async def cache_put(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        now = time.time()
        text = encode_cache_entry(key, value, now, expires_at(now, ttl))
        with self._guard(f"write cache key {key!r}"):
            if ttl is None:
                await self._client.set(self._cache_key(key), text)
            elif ttl > 0:  # Redis drops it a little after expires_at; reads check the time
                await self._client.set(self._cache_key(key), text, px=math.ceil(ttl * 1000))
            else:  # expired already: as if it were put and then expired
                await self._client.delete(self._cache_key(key))

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._client.aclose()
