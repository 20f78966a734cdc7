"""The PostgreSQL store's connections: its own, which any call uses when it is free, and
a pool beside it.

Taking a connection from psycopg's pool and giving it back costs about 50 µs a call on
loopback: a tenth of a durable step, whose commit is the rest. So the connection the
store opens to migrate its schema stays open as its own, one of its ``max_size``
connections (the pool gets the others): a call that finds it free uses it; one that
finds it in use (calls at the same time) takes one from the pool. After :data:`IDLE_S`
unused it is checked with a round trip before it is trusted again, as the pool does
with its own. It is given up, and the pool grows back to the store's full size, once it
fails that check, breaks, or is left inside a transaction or a command. (psycopg
cancels and drains a cancelled call's query, so that one usually comes back idle.)
Closed while a call uses it, it closes when that call ends, as a pool's connection
does.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

IDLE_S = 600.0
"""How long the connection may sit unused before it is checked (psycopg_pool's
``max_idle``)."""

Connection = psycopg.AsyncConnection[tuple[Any, ...]]
Pool = AsyncConnectionPool[Connection]


class OwnConnection:
    """Lends the store's own connection to one call at a time."""

    def __init__(self, conn: Connection, pool: Pool, min_size: int, max_size: int) -> None:
        self._conn: Connection | None = conn
        self._pool = pool
        self._sizes = (min_size, max_size)
        """The store's sizes: the pool's once this connection is given up."""
        self._busy = False
        self._closing = False
        self._used = time.monotonic()

    async def take(self) -> Connection | None:
        """The connection, now this caller's until :meth:`done`; None when it is in use
        or given up (then use the pool)."""
        conn = self._conn
        if conn is None or self._busy:
            return None
        self._busy = True
        if time.monotonic() - self._used > IDLE_S:
            try:
                await conn.execute("SELECT 1")
            except BaseException as exc:
                self._busy = False
                await self._give_up()  # broken, or cut off mid-check
                if isinstance(exc, Exception):
                    return None
                raise
        return conn

    async def done(self, conn: Connection) -> None:
        """The call that took ``conn`` has ended, however it ended."""
        self._busy = False
        self._used = time.monotonic()
        if self._closing:
            await self.close()
        elif conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            await self._give_up()

    async def _give_up(self) -> None:
        await self.close()
        with contextlib.suppress(Exception):  # a closed pool: the store is closing
            await self._pool.resize(*self._sizes)

    async def close(self) -> None:
        """Close the connection now, or when the call using it ends."""
        if self._busy:
            self._closing = True
            return
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):  # it may be broken already
                await conn.close()


def pool_for(url: str, min_size: int, max_size: int, timeout: float, own: bool) -> Pool:
    """The store's pool, not open yet: all of its connections, or all but its own."""
    spare = 1 if own else 0
    return AsyncConnectionPool(
        url,
        min_size=min_size - spare,
        max_size=max_size - spare,
        kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout))},
        open=False,
    )
