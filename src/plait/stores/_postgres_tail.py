"""``PostgresStore.tail``: LISTEN on a connection of its own, NOTIFY from triggers.

Migration 4 (:mod:`plait.stores._postgres_schema`) makes every append statement and
every status change of a followed run NOTIFY the channel ``tail:{schema}`` with the run
id as payload, whoever writes (this process or another). A follower opens one
connection outside the store's pool, LISTENs there, registers itself in ``followers``
(the run id and its connection's backend pid; rows of connections that are gone are
cleared by the next follower), reads the run's status on that connection and its events
through the store, and sleeps until a notification names its run (or
:data:`~plait.stores._tail.SAFETY_POLL_S` passes, which also covers an append whose
trigger ran just before the follower registered). The notification carries no event:
payloads are limited to 8000 bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from plait.core import StoreError
from plait.runtime import Event
from plait.stores._tail import SAFETY_POLL_S, follow

if TYPE_CHECKING:
    from plait.stores._postgres import PostgresStore


def channel(schema: str) -> str:
    """The channel the triggers of ``schema`` notify (what ``left('tail:' || schema, 63)``
    gives in SQL)."""
    return f"tail:{schema}"[:63]


class _Listener:
    """One LISTENing connection, for one followed run."""

    def __init__(self, conn: psycopg.AsyncConnection[tuple[Any, ...]], schema: str, run_id: str):
        self._conn = conn
        self._run_id = run_id
        self._status = sql.SQL("SELECT status FROM {}.runs WHERE run_id = %s").format(
            sql.Identifier(schema)
        )

    async def status(self, run_id: str) -> str | None:
        cur = await self._conn.execute(self._status, (run_id,))
        row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def wait(self, timeout: float) -> None:
        """Until a notification names this run, or ``timeout`` seconds (notifications that
        came meanwhile, during a query too, are kept by psycopg and count)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            heard = False
            async for note in self._conn.notifies(timeout=left, stop_after=1):
                heard = heard or note.payload == self._run_id
            if heard:
                return


async def tail(
    store: PostgresStore, url: str, schema: str, run_id: str, after_seq: int, timeout: float
) -> AsyncIterator[Event]:
    """See :meth:`PostgresStore.tail`."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=max(1, round(timeout))
        )
    except psycopg.Error as exc:
        raise StoreError(
            f"PostgreSQL store (schema {schema!r}): cannot open a connection to follow run "
            f"{run_id}: {' '.join(str(exc).split())}"
        ) from None
    try:
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel(schema))))
        await _register(conn, schema, run_id)
        listener = _Listener(conn, schema, run_id)
        async for event in follow(
            store,
            run_id,
            after_seq,
            wait=listener.wait,
            status=listener.status,
            first=SAFETY_POLL_S,
            most=SAFETY_POLL_S,
        ):
            yield event
    except psycopg.Error as exc:
        raise StoreError(
            f"PostgreSQL store (schema {schema!r}): following run {run_id} failed: {exc}"
        ) from exc
    finally:
        await _unregister(conn, schema, run_id)
        await conn.close()


async def _register(
    conn: psycopg.AsyncConnection[tuple[Any, ...]], schema: str, run_id: str
) -> None:
    s = sql.Identifier(schema)
    await conn.execute(
        sql.SQL(
            "DELETE FROM {}.followers WHERE pid NOT IN (SELECT pid FROM pg_stat_activity)"
        ).format(s)
    )
    await conn.execute(
        sql.SQL(
            "INSERT INTO {}.followers (run_id, pid) VALUES (%s, pg_backend_pid())"
            " ON CONFLICT DO NOTHING"
        ).format(s),
        (run_id,),
    )


async def _unregister(
    conn: psycopg.AsyncConnection[tuple[Any, ...]], schema: str, run_id: str
) -> None:
    """Leave ``followers`` (when the connection still works: else the next follower
    clears the row)."""
    if conn.closed:
        return
    leave = sql.SQL("DELETE FROM {}.followers WHERE run_id = %s AND pid = pg_backend_pid()")
    with contextlib.suppress(psycopg.Error, TimeoutError):
        async with asyncio.timeout(5.0):
            await conn.execute(leave.format(sql.Identifier(schema)), (run_id,))
