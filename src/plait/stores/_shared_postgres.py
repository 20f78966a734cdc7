"""``PostgresSharedState``: shared key-value state in PostgreSQL (psycopg 3, async, pooled).

One table, ``{schema}.shared_state (key TEXT PRIMARY KEY, value JSONB, version BIGINT,
expires_at TIMESTAMPTZ)``, created when the state opens (under an advisory lock, so
processes starting together do not race). Expired rows read as absent and are
overwritten by the next write; :meth:`PostgresSharedState.purge_expired` deletes them.

``update`` reads the row's ``version``, computes the new value, then writes with
``UPDATE ... WHERE key = %s AND version = %s`` (or ``INSERT ... ON CONFLICT DO NOTHING``
when there was no row); zero rows written means another writer won and the attempt is
retried. Every write sends ``NOTIFY plait_shared_{schema}, '{origin} {key}'`` in the same
transaction, so the local caches hear of it exactly when it commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from plait.core import StoreError, require_extra

require_extra("psycopg", "postgres", feature="PostgresSharedState")
require_extra("psycopg_pool", "postgres", feature="PostgresSharedState")

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402
from psycopg_pool import AsyncConnectionPool  # noqa: E402

from plait.stores._postgres_target import _SCHEMA_NAME, describe_target  # noqa: E402
from plait.stores._shared import Found, SharedStateBase  # noqa: E402

_LIVE = "(expires_at IS NULL OR expires_at > now())"
_LEFT = "extract(epoch FROM expires_at - now())::float8"
_NEW_EXPIRY = "now() + %(ttl)s::float8 * interval '1 second'"
_QUERIES = {
    "create": "CREATE SCHEMA IF NOT EXISTS {s}; CREATE TABLE IF NOT EXISTS {s}.shared_state ("
    "key text PRIMARY KEY, value jsonb NOT NULL, version bigint NOT NULL,"
    " expires_at timestamptz)",
    "load": f"SELECT value, {_LEFT} FROM {{s}}.shared_state WHERE key = %(key)s AND {_LIVE}",
    "read": f"SELECT value, version, {_LIVE}, {_LEFT} FROM {{s}}.shared_state WHERE key = %(key)s",
    "save": "INSERT INTO {s}.shared_state AS t (key, value, version, expires_at)"
    f" VALUES (%(key)s, %(value)s, 1, {_NEW_EXPIRY}) ON CONFLICT (key) DO UPDATE"
    " SET value = EXCLUDED.value, version = t.version + 1, expires_at = EXCLUDED.expires_at",
    "insert": "INSERT INTO {s}.shared_state (key, value, version, expires_at)"
    f" VALUES (%(key)s, %(value)s, 1, {_NEW_EXPIRY}) ON CONFLICT (key) DO NOTHING",
    # A live row with ttl None keeps its expiry; an expired one is reborn without one.
    "update": "UPDATE {s}.shared_state SET value = %(value)s, version = version + 1,"
    f" expires_at = CASE WHEN %(ttl)s::float8 IS NOT NULL THEN {_NEW_EXPIRY}"
    " WHEN %(keep)s THEN expires_at END WHERE key = %(key)s AND version = %(version)s",
    "remove": f"DELETE FROM {{s}}.shared_state WHERE key = %(key)s RETURNING {_LIVE}",
    "purge": "DELETE FROM {s}.shared_state WHERE expires_at <= now()",
    "notify": "SELECT pg_notify(%(channel)s, %(message)s)",
}


class PostgresSharedState(SharedStateBase):
    """Shared state in PostgreSQL; see :class:`~plait.stores._shared.SharedStateBase`.

    Connects on first use (or ``open()`` / ``async with``); an unreachable server or a
    refused login fails that call with a :class:`StoreError` saying what to check.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "plait",
        cache: bool = False,
        max_attempts: int = 100,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 5.0,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(schema) or len(schema) > 50:
            raise StoreError(
                f"PostgreSQL schema name {schema!r} is not allowed; use lowercase letters, "
                "digits and underscores (at most 50, not starting with a digit)"
            )
        super().__init__(cache=cache, max_attempts=max_attempts, connect_timeout=connect_timeout)
        self._url = url
        self._schema = schema
        self._channel = f"plait_shared_{schema}"
        self._sizes = (min_size, max_size)
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]] | None = None
        ident = sql.Identifier(schema)
        self._q = {name: sql.SQL(text).format(s=ident) for name, text in _QUERIES.items()}

    def _connect_error(self, exc: psycopg.Error) -> StoreError:
        reason = " ".join(str(exc).split())
        return StoreError(
            f"cannot connect to PostgreSQL at {describe_target(self._url)}: {reason}\n"
            "Check that the server is running and reachable at that host and port, and "
            "that the user, password and database in the URL are right."
        )

    async def _new_connection(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        try:
            return await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(self._timeout))
            )
        except psycopg.Error as exc:
            raise self._connect_error(exc) from None

    async def _connect(self) -> None:
        conn = await self._new_connection()
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('plait.shared_state'))")
                await conn.execute(self._q["create"])
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot create table {self._schema}.shared_state at "
                f"{describe_target(self._url)}: {exc}. Check that the user may create "
                "schemas and tables there."
            ) from None
        finally:
            await conn.close()
        pool: AsyncConnectionPool[psycopg.AsyncConnection[tuple[Any, ...]]]
        pool = AsyncConnectionPool(
            self._url,
            min_size=self._sizes[0],
            max_size=self._sizes[1],
            kwargs={"autocommit": True, "connect_timeout": max(1, round(self._timeout))},
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=self._timeout)
        except psycopg.Error as exc:
            await pool.close()
            raise self._connect_error(exc) from None
        self._pool = pool

    async def _disconnect(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _connection(
        self, what: str
    ) -> AsyncIterator[psycopg.AsyncConnection[tuple[Any, ...]]]:
        if self._pool is None:
            raise StoreError("this PostgresSharedState is closed; open a new one")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(
                f"PostgreSQL shared state (schema {self._schema!r}, "
                f"{describe_target(self._url)}): {what} failed: {exc}"
            ) from None

    async def _notify(self, conn: psycopg.AsyncConnection[tuple[Any, ...]], message: str) -> None:
        await conn.execute(self._q["notify"], {"channel": self._channel, "message": message})

    async def _load(self, key: str) -> Found | None:
        async with self._connection(f"reading {key!r}") as conn:
            cur = await conn.execute(self._q["load"], {"key": key})
            row = await cur.fetchone()
        return None if row is None else Found(row[0], row[1])

    async def _save(self, key: str, data: Any, ttl: float | None, message: str) -> None:
        params = {"key": key, "value": Jsonb(data), "ttl": ttl}
        async with self._connection(f"writing {key!r}") as conn, conn.transaction():
            await conn.execute(self._q["save"], params)
            await self._notify(conn, message)

    async def _remove(self, key: str, message: str) -> bool:
        async with self._connection(f"deleting {key!r}") as conn, conn.transaction():
            cur = await conn.execute(self._q["remove"], {"key": key})
            row = await cur.fetchone()
            if row is not None:
                await self._notify(conn, message)
        return row is not None and bool(row[0])

    async def _try_update(
        self,
        key: str,
        compute: Callable[[Found | None], Any],
        ttl: float | None,
        message: str,
    ) -> Found | None:
        async with self._connection(f"updating {key!r}") as conn:
            cur = await conn.execute(self._q["read"], {"key": key})
            row = await cur.fetchone()
            live = row is not None and bool(row[2])
            old = Found(row[0], row[3]) if row is not None and live else None
            data = compute(old)
            params: dict[str, Any] = {"key": key, "value": Jsonb(data), "ttl": ttl}
            async with conn.transaction():
                if row is None:
                    cur = await conn.execute(self._q["insert"], params)
                else:
                    params |= {"keep": live, "version": row[1]}
                    cur = await conn.execute(self._q["update"], params)
                if cur.rowcount == 0:
                    return None
                await self._notify(conn, message)
        return Found(data, ttl if ttl is not None or old is None else old.ttl)

    async def purge_expired(self) -> int:
        """Delete the expired rows (they already read as absent); how many went."""
        await self.open()
        async with self._connection("purging expired keys") as conn:
            cur = await conn.execute(self._q["purge"])
            return cur.rowcount

    async def _listen(self, ready: Callable[[], None], changed: Callable[[str], None]) -> None:
        conn = await self._new_connection()
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            ready()
            async for notify in conn.notifies():
                changed(notify.payload)
        finally:
            await conn.close()
