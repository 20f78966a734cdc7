"""The PostgreSQL store's own connection, which any call uses when it is free.

Taking a connection from psycopg's pool and giving it back costs about 50 µs a call on
loopback: a tenth of a durable step, whose commit is the rest. So the connection the
store opens to migrate its schema stays open, as one of the store's ``max_size``
connections: a call that finds it free uses it; one that finds it in use (calls at
once) takes one from the pool. After :data:`IDLE_S` unused it is checked with a round
trip before it is trusted again (what the pool does with its own). It is given up for
good, and the pool serves everything, once it fails that check, breaks, or is left in
the middle of a command (a cancelled call).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

IDLE_S = 600.0
"""How long the connection may sit unused before it is checked (psycopg_pool's
``max_idle``)."""

Connection = psycopg.AsyncConnection[tuple[Any, ...]]


class OwnConnection:
    """Lends the store's own connection to one call at a time."""

    def __init__(self, conn: Connection) -> None:
        self._conn: Connection | None = conn
        self._busy = False
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
                await self.close()  # broken, or cut off mid-check
                if isinstance(exc, Exception):
                    return None
                raise
        return conn

    async def done(self, conn: Connection) -> None:
        """The call that took ``conn`` has ended, however it ended."""
        self._busy = False
        self._used = time.monotonic()
        if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            await self.close()  # broken, or cut off mid-command: never used again

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            with contextlib.suppress(Exception):  # it may be broken already
                await conn.close()
