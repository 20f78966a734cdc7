"""``PostgresStore``: runs and event logs in PostgreSQL (psycopg 3, async, pooled).

Tables live in one schema (``plait`` unless told otherwise), created and migrated when
the store opens (see :mod:`plait.stores._postgres_schema`). An append is one statement,
one round trip, its own commit: it inserts the batch (one row, see
:mod:`plait.stores._batches`) only when it continues the stored log, so it is durable when
``append`` returns, and two writers of one run never interleave.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Self

from plait.core import StoreError, require_extra, scrub

require_extra("psycopg", "postgres", feature="the PostgreSQL store")
require_extra("psycopg_pool", "postgres", feature="the PostgreSQL store")

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from plait.runtime import (  # noqa: E402
    VALUE_FORMAT,
    CacheEntry,
    Event,
    RunRecord,
    needs_run_inputs,
    to_json_value,
    value_to_text,
)
from plait.runtime.ports import PRUNABLE, prunable_statuses  # noqa: E402
from plait.stores._batches import decode_rows, event_rows, parse_rows  # noqa: E402
from plait.stores._order import check_order  # noqa: E402
from plait.stores._postgres_append import insert_batch  # noqa: E402
from plait.stores._postgres_own import OwnConnection, Pool, pool_for  # noqa: E402
from plait.stores._postgres_schema import migrate  # noqa: E402
from plait.stores._postgres_sql import _QUERIES, _record  # noqa: E402
from plait.stores._postgres_tail import Listener  # noqa: E402
from plait.stores._postgres_tail import tail as _tail  # noqa: E402
from plait.stores._postgres_target import _SCHEMA_NAME, describe_target  # noqa: E402
from plait.stores._values import (  # noqa: E402
    FreshInputs,
    check_lease,
    dumps_value,
    expires_at,
    is_live,
    listed_record,
    loads_value,
    read_record,
)


class PostgresStore:
    """Keeps runs in PostgreSQL. Open it before use, close it after::

    store = await PostgresStore.connect("postgresql://user@127.0.0.1/db")

    It holds at most ``max_size`` connections (at least ``min_size``): its own, which a
    call uses when it is free, and a pool for calls at the same time; tails share one
    more.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "plait",
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 5.0,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise StoreError(
                f"PostgreSQL schema name {schema!r} is not allowed; use lowercase letters, "
                "digits and underscores (at most 63, not starting with a digit)"
            )
        if not 0 <= min_size <= max_size or max_size < 1:
            raise StoreError(
                f"PostgreSQL store: min_size={min_size}, max_size={max_size} is not a pool "
                "size; use 0 <= min_size <= max_size and max_size >= 1"
            )
        self._url = url
        self._schema = schema
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = connect_timeout
        self._pool: Pool | None = None
        self._fresh = FreshInputs()
        self._listener: Listener | None = None
        """The LISTENing connection all tails share (made by the first tail)."""
        self._own: OwnConnection | None = None
        """The connection calls use first (see :mod:`plait.stores._postgres_own`)."""
        ident = sql.Identifier(schema)
        select = sql.SQL(_QUERIES["prune_select"]).format(s=ident)
        self._q = {
            name: sql.SQL(text).format(s=ident, select=select)
            if "{select}" in text
            else sql.SQL(text).format(s=ident)
            for name, text in _QUERIES.items()
        }

    @classmethod
    async def connect(cls, url: str, **options: Any) -> Self:
        """A store on ``url``, opened (see :meth:`open`)."""
        store = cls(url, **options)
        await store.open()
        return store

    async def open(self) -> None:
        """Connect, create or migrate the tables, and start the pool.

        Raises :class:`StoreError` saying what to check when the server cannot be reached
        or refuses the login, and when its schema is newer than this plait knows.
        """
        if self._pool is not None:
            return
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(self._timeout))
            )
        except psycopg.Error as exc:
            reason = scrub(" ".join(str(exc).split()), self._url)
            raise StoreError(
                f"cannot connect to PostgreSQL at {describe_target(self._url)}: {reason}\n"
                "Check that the server is running and reachable at that host and port, and "
                "that the user, password and database in the store URL are right."
            ) from None
        try:
            await migrate(conn, self._schema)
        except BaseException as exc:
            await conn.close()
            if isinstance(exc, psycopg.Error):
                raise StoreError(
                    f"cannot prepare schema {self._schema!r} at {describe_target(self._url)}: "
                    f"{exc}. Check that the user may create schemas and tables there."
                ) from exc
            raise
        # The connection that migrated stays open as the store's own (one of max_size,
        # see plait.stores._postgres_own) unless the store may keep no connection idle.
        own = self._min_size >= 1 and self._max_size >= 2
        pool = pool_for(self._url, self._min_size, self._max_size, self._timeout, own)
        try:
            await pool.open(wait=True, timeout=self._timeout)
        except BaseException as exc:
            await pool.close()
            await conn.close()
            if isinstance(exc, psycopg.Error):
                raise StoreError(
                    f"cannot open a connection pool to PostgreSQL at "
                    f"{describe_target(self._url)}: {exc}"
                ) from None
            raise
        self._pool = pool
        if own:
            self._own = OwnConnection(conn, pool, self._min_size, self._max_size)
        else:
            await conn.close()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()
        own, self._own = self._own, None
        if own is not None:
            await own.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @asynccontextmanager
    async def _connection(
        self, what: str
    ) -> AsyncIterator[psycopg.AsyncConnection[tuple[Any, ...]]]:
        pool = self._pool
        if pool is None:
            raise StoreError("this PostgresStore is not open; await store.open() first")
        own = self._own
        conn = None if own is None else await own.take()
        try:
            if conn is None:  # the store's own connection is busy (or gone): the pool's
                async with pool.connection() as pooled:  # closed meanwhile: PoolClosed
                    yield pooled
            else:
                try:
                    yield conn
                finally:
                    await own.done(conn)  # type: ignore[union-attr]
        except psycopg.Error as exc:
            raise StoreError(
                f"PostgreSQL store (schema {self._schema!r}): {what} failed: {exc}"
            ) from exc

    async def create_run(self, record: RunRecord) -> None:
        where = f"run {record.run_id}"
        inputs = value_to_text(record.inputs, f"{where} inputs")
        plan = None if record.plan is None else Jsonb(to_json_value(record.plan, f"{where} plan"))
        params = (record.run_id, record.flow, record.status, record.created_at)
        lease = (record.owner, record.lease_until)
        async with self._connection(f"creating {where}") as conn:
            cur = await conn.execute(
                self._q["create"],
                (
                    *params,
                    record.updated_at,
                    None,
                    plan,
                    record.error,
                    *lease,
                    VALUE_FORMAT,
                    inputs,
                ),
            )
            if cur.rowcount == 0:
                raise StoreError(f"run {record.run_id} already exists in this store")
        self._fresh.created(record.run_id, record.inputs)

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        check_order(run_id, events[0].seq - 1, events)  # in order within the batch
        rows = event_rows(run_id, events, inputs_in_run=self._fresh.kept_with_run(run_id, events))
        params: dict[str, Any]
        if len(rows) == 1:  # the common case: plain values, no arrays
            _, first, last, kind, ts, body = rows[0]
            query = self._q["append_row"]
            params = {
                "run": run_id,
                "first": first,
                "last": last,
                "type": kind,
                "ts": ts,
                "body": body,
            }
        else:
            query = self._q["append"]
            params = {
                "run": run_id,
                "first": events[0].seq,
                "seqs": [row[1] for row in rows],
                "lasts": [row[2] for row in rows],
                "types": [row[3] for row in rows],
                "ts": [row[4] for row in rows],
                "bodies": [row[5] for row in rows],
            }
        async with self._connection(f"appending to run {run_id}") as conn:
            await insert_batch(conn, query, params, self._q["last"], run_id, events, len(rows))
        self._fresh.stored(run_id, events)

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None:
        async with self._connection(f"setting the status of run {run_id}") as conn:
            cur = await conn.execute(self._q["status"], (status, error, time.time(), run_id))
            if cur.rowcount == 0:
                raise StoreError(f"run {run_id} is not in this store")

    async def get_run(self, run_id: str) -> RunRecord | None:
        async with self._connection(f"reading run {run_id}") as conn:
            cur = await conn.execute(self._q["get"], (run_id,))
            row = await cur.fetchone()
        return None if row is None else read_record(self._where, row[0], lambda: _record(row))

    async def list_runs(
        self,
        *,
        flow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        since: float | None = None,
        before: float | None = None,
    ) -> list[RunRecord]:
        params = {"flow": flow, "status": status, "since": since, "before": before}
        async with self._connection("listing runs") as conn:
            cur = await conn.execute(self._q["list"], {**params, "limit": limit})
            rows = await cur.fetchall()
        return [listed_record(self._where, row[0], row[1], partial(_record, row)) for row in rows]

    async def read(self, run_id: str, *, after: int = 0) -> list[Event]:
        async with self._connection(f"reading the events of run {run_id}") as conn:
            cur = await conn.execute(self._q["read"], {"run": run_id, "after": after})
            rows = await cur.fetchall()
            if not rows:
                cur = await conn.execute(self._q["exists"], (run_id,))
                if await cur.fetchone() is None:
                    raise StoreError(f"run {run_id} is not in this store")

        def where(seq: int) -> str:
            return f"run {run_id}, event #{seq} (schema {self._schema!r})"

        parsed = parse_rows(rows, after, where)
        inputs = None
        if parsed and needs_run_inputs(parsed[0][1]):
            record = await self.get_run(run_id)
            inputs = None if record is None else record.inputs
        return decode_rows(run_id, parsed, inputs, where)

    @property
    def _where(self) -> str:
        return f"PostgreSQL schema {self._schema!r}"

    def tail(self, run_id: str, *, after_seq: int = 0) -> AsyncIterator[Event]:
        """The run's events after ``after_seq`` as any process appends them, until it
        ends (see :mod:`plait.stores._tail`): LISTEN/NOTIFY on one connection outside the
        pool that all the store's tails share (:mod:`plait.stores._postgres_tail`)."""
        if self._pool is None:
            raise StoreError("this PostgresStore is not open; await store.open() first")
        if self._listener is None:
            self._listener = Listener(self._url, self._schema, self._timeout, self._connection)
        return _tail(self, self._listener, run_id, after_seq)

    async def delete_run(self, run_id: str) -> bool:
        self._fresh.forget(run_id)
        async with self._connection(f"deleting run {run_id}") as conn:
            cur = await conn.execute(self._q["delete"], (run_id,))
            return cur.rowcount > 0

    async def prune(
        self,
        *,
        older_than: float | None = None,
        keep_latest: int | None = None,
        flow: str | None = None,
        statuses: Sequence[str] = PRUNABLE,
        dry_run: bool = False,
    ) -> int:
        wanted = prunable_statuses(statuses, keep_latest)
        if not wanted:
            return 0
        params = {
            "statuses": list(wanted),
            "flow": flow,
            "keep": keep_latest or 0,
            "older": older_than,
        }
        async with self._connection("pruning runs") as conn:
            if dry_run:
                cur = await conn.execute(self._q["prune_count"], params)
                row = await cur.fetchone()
                return 0 if row is None else int(row[0])
            cur = await conn.execute(self._q["prune"], params)
            return max(cur.rowcount, 0)

    async def acquire(self, run_id: str, owner: str, ttl: float, *, replace: str = "") -> bool:
        check_lease(owner, ttl)
        now = time.time()
        params = {
            "owner": owner,
            "until": now + ttl,
            "run_id": run_id,
            "now": now,
            "replace": replace or owner,
        }
        async with self._connection(f"acquiring the lease of run {run_id}") as conn:
            cur = await conn.execute(self._q["acquire"], params)
            if cur.rowcount > 0:
                return True
            await self._require(conn, run_id)
        return False

    async def release(self, run_id: str, owner: str) -> None:
        async with self._connection(f"releasing the lease of run {run_id}") as conn:
            cur = await conn.execute(self._q["release"], (run_id, owner))
            if cur.rowcount == 0:
                await self._require(conn, run_id)

    async def _require(self, conn: psycopg.AsyncConnection[tuple[Any, ...]], run_id: str) -> None:
        cur = await conn.execute(self._q["exists"], (run_id,))
        if await cur.fetchone() is None:
            raise StoreError(f"run {run_id} is not in this store")

    async def cache_get(self, key: str) -> CacheEntry | None:
        async with self._connection(f"reading cache key {key!r}") as conn:
            cur = await conn.execute(self._q["cache_get"], (key,))
            row = await cur.fetchone()
        if row is None or not is_live(row[2], time.time()):
            return None
        return CacheEntry(value=loads_value(key, row[0], row[3]), created_at=row[1])

    async def cache_put(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        text = dumps_value(key, value)
        now = time.time()
        async with self._connection(f"writing cache key {key!r}") as conn:
            await conn.execute(
                self._q["cache_put"], (key, text, now, expires_at(now, ttl), VALUE_FORMAT)
            )
