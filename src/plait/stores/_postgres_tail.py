"""``PostgresStore.tail``: one LISTENing connection per store, NOTIFY from triggers.

Migration 4 (:mod:`plait.stores._postgres_schema`) makes every append statement and
every status change of a followed run NOTIFY the channel ``tail:{schema}`` with the run
id as payload, whoever writes (this process or another). A run is followed while
``followers`` has a row for it: the run id and the backend pid of a listening connection.

A store's tails share one connection outside its pool (a :class:`Listener`), opened by
the first tail and closed when the last one ends or with the store. It LISTENs, and a
task of its own hands each notification to the tails of the run it names (an
``asyncio.Event`` each). The store keeps one ``followers`` row per run it follows,
however many of its tails follow that run: added by the first of them, removed when the
last one ends (rows of connections that are gone are cleared whenever a listener
connects). A tail reads the run's status and events through the store's pool and sleeps
until notified or until :data:`~plait.stores._tail.SAFETY_POLL_S` passes (which also
covers an append whose trigger ran just before the run's row was added). The
notification carries no event: payloads are limited to 8000 bytes.

When the listening connection drops, the log says so, the tails are woken and look again
every ``SAFETY_POLL_S``, and the listener reconnects (waiting from
:data:`RECONNECT_FIRST_S` up to :data:`RECONNECT_MOST_S` between tries), adds its rows
again under its new pid, says so in the log and wakes the tails once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from plait.core import StoreError, scrub
from plait.runtime import Event
from plait.stores._tail import SAFETY_POLL_S, follow

if TYPE_CHECKING:
    from plait.stores._postgres import PostgresStore

log = logging.getLogger("plait")

Conn = psycopg.AsyncConnection[tuple[Any, ...]]
Connection = Callable[[str], AbstractAsyncContextManager[Conn]]
"""``async with connection(what) as conn``: a connection of the store's pool (errors
become a StoreError saying ``what`` failed)."""

RECONNECT_FIRST_S = 0.1
RECONNECT_MOST_S = 30.0
"""A listener that lost its connection tries again after ``RECONNECT_FIRST_S``, doubling
the wait after each failure up to ``RECONNECT_MOST_S``."""

LEAVE_S = 5.0
"""The longest a tail that ends waits to remove its run's row (else the next listener to
connect clears it, once this one's connection is gone)."""


def channel(schema: str) -> str:
    """The channel the triggers of ``schema`` notify (what ``left('tail:' || schema, 63)``
    gives in SQL)."""
    return f"tail:{schema}"[:63]


class Listener:
    """A store's LISTENing connection, shared by all its tails (see the module docs)."""

    def __init__(self, url: str, schema: str, timeout: float, connection: Connection) -> None:
        self._url = url
        self._schema = schema
        self._timeout = timeout
        self._connection = connection
        s = sql.Identifier(schema)
        self._q = {
            "listen": sql.SQL("LISTEN {}").format(sql.Identifier(channel(schema))),
            "status": sql.SQL("SELECT status FROM {}.runs WHERE run_id = %s").format(s),
            "gone": sql.SQL(
                "DELETE FROM {}.followers WHERE pid NOT IN (SELECT pid FROM pg_stat_activity)"
            ).format(s),
            "follow": sql.SQL(
                "INSERT INTO {}.followers (run_id, pid) VALUES (%s, %s) ON CONFLICT DO NOTHING"
            ).format(s),
            "unfollow": sql.SQL("DELETE FROM {}.followers WHERE run_id = %s AND pid = %s").format(
                s
            ),
            "leave": sql.SQL("DELETE FROM {}.followers WHERE pid = %s").format(s),
        }
        self._tails: dict[str, set[asyncio.Event]] = {}
        """run id -> the wake-ups of the tails following it."""
        self._rows: set[str] = set()
        """The runs that have a ``followers`` row of ``_pid``."""
        self._conn: Conn | None = None
        self._pid: int | None = None
        """The backend pid of ``_conn``; None while there is no connection."""
        self._task: asyncio.Task[None] | None = None
        """Hears the notifications (and reconnects); None while no tail runs."""
        self._lock = asyncio.Lock()
        """Held while the connection, ``_pid`` or ``followers`` rows change."""
        self._closed = False

    async def join(self, run_id: str) -> asyncio.Event:
        """A new tail of ``run_id``: its wake-up, once the run is followed."""
        woken = asyncio.Event()
        async with self._lock:
            if self._closed:
                raise StoreError("this PostgresStore is not open; await store.open() first")
            self._tails.setdefault(run_id, set()).add(woken)
            try:
                if self._task is None:
                    await self._open(run_id)
                await self._sync(run_id)
            except BaseException:
                self._drop(run_id, woken)
                if not self._tails:
                    await self._shut()
                raise
        return woken

    async def leave(self, run_id: str, woken: asyncio.Event) -> None:
        """The tail with ``woken`` ended: the run's row goes with the last tail of the run,
        the connection with the last tail of all."""
        self._drop(run_id, woken)
        if self._closed:
            return
        try:
            async with asyncio.timeout(LEAVE_S), self._lock:
                with contextlib.suppress(StoreError):
                    await self._sync(run_id)
                    if not self._tails:  # also the rows of runs whose tails ended meanwhile
                        await self._unfollow_all()
                if not self._tails:
                    await self._shut()
        except TimeoutError:
            log.warning(
                "PostgreSQL store (schema %r): a tail of run %s ended without removing its "
                "followers row in %s s; the next tail to start clears it",
                self._schema,
                run_id,
                LEAVE_S,
            )

    async def status(self, run_id: str) -> str | None:
        async with self._connection(f"reading the status of run {run_id}") as conn:
            cur = await conn.execute(self._q["status"], (run_id,))
            row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def close(self) -> None:
        """With the store, before its pool: remove this listener's rows, close its
        connection; tails still running wake up (and meet the closed store)."""
        self._closed = True
        async with self._lock:
            with contextlib.suppress(StoreError, TimeoutError):
                async with asyncio.timeout(LEAVE_S):
                    await self._unfollow_all()
            await self._shut()
        self._wake_all()

    async def _open(self, run_id: str) -> None:
        """Connect and start hearing (with the lock held)."""
        try:
            conn = await self._connect()
        except psycopg.Error as exc:
            raise StoreError(
                f"PostgreSQL store (schema {self._schema!r}): cannot open a connection to "
                f"follow run {run_id}: {self._reason(exc)}"
            ) from None
        self._task = asyncio.create_task(self._hear(conn), name="plait-postgres-tail")
        await self._attach(conn)  # from here on, _shut closes it

    async def _connect(self) -> Conn:
        conn = await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=max(1, round(self._timeout))
        )
        try:
            await conn.execute(self._q["listen"])
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _attach(self, conn: Conn) -> None:
        """Make ``conn`` the listening connection (with the lock held; its rows follow)."""
        self._conn, self._pid = conn, conn.info.backend_pid
        self._rows.clear()
        async with self._connection("clearing the followers rows of closed connections") as c:
            await c.execute(self._q["gone"])

    async def _sync(self, run_id: str) -> None:
        """Add or remove the run's row, as its tails require (with the lock held)."""
        pid = self._pid
        wanted = run_id in self._tails
        if pid is None or wanted == (run_id in self._rows):
            return
        what = f"{'following' if wanted else 'unfollowing'} run {run_id}"
        async with self._connection(what) as conn:
            await conn.execute(self._q["follow" if wanted else "unfollow"], (run_id, pid))
        if wanted:
            self._rows.add(run_id)
        else:
            self._rows.discard(run_id)

    async def _unfollow_all(self) -> None:
        """Remove every row of this listener (with the lock held)."""
        if self._pid is not None and self._rows:
            async with self._connection("unfollowing the runs it followed") as conn:
                await conn.execute(self._q["leave"], (self._pid,))
            self._rows.clear()

    async def _shut(self) -> None:
        """Stop hearing and close the connection (with the lock held)."""
        task, conn = self._task, self._conn
        self._task, self._conn, self._pid = None, None, None
        self._rows.clear()
        if task is not None:
            task.cancel()
            await asyncio.wait([task])  # not `await task`: a cancel of ours must go on
        if conn is not None:
            await conn.close()

    async def _hear(self, conn: Conn) -> None:
        """The task: wake the tails of each run notified; reconnect when the connection
        drops."""
        while True:
            try:
                async for note in conn.notifies():
                    for woken in self._tails.get(note.payload, ()):
                        woken.set()
                reason = "it was closed"
            except psycopg.Error as exc:
                reason = self._reason(exc)
            async with self._lock:
                if self._conn is conn:
                    self._conn, self._pid = None, None
                    self._rows.clear()
            log.warning(
                "PostgreSQL store (schema %r): lost the connection that hears of new events "
                "(%s); the %d followed runs are looked at every %s s until it reconnects",
                self._schema,
                reason,
                len(self._tails),
                SAFETY_POLL_S,
            )
            self._wake_all()
            with contextlib.suppress(psycopg.Error):
                await conn.close()
            conn = await self._reconnect()

    async def _reconnect(self) -> Conn:
        delay = RECONNECT_FIRST_S
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MOST_S)
            try:
                conn = await self._connect()
            except psycopg.Error as exc:
                log.debug("PostgreSQL store (schema %r): reconnecting: %s", self._schema, exc)
                continue
            try:
                async with self._lock:
                    try:
                        await self._attach(conn)
                        for run_id in list(self._tails):
                            await self._sync(run_id)
                    except (StoreError, psycopg.Error) as exc:
                        log.debug(
                            "PostgreSQL store (schema %r): reconnecting: %s", self._schema, exc
                        )
                        self._conn, self._pid = None, None
                        self._rows.clear()
                        await conn.close()
                        continue
            except BaseException:
                if self._conn is not conn:  # else _shut closes it
                    await conn.close()
                raise
            log.warning(
                "PostgreSQL store (schema %r): the connection that hears of new events is back;"
                " %d followed runs are notified again",
                self._schema,
                len(self._tails),
            )
            self._wake_all()
            return conn

    def _drop(self, run_id: str, woken: asyncio.Event) -> None:
        tails = self._tails.get(run_id)
        if tails is not None:
            tails.discard(woken)
            if not tails:
                del self._tails[run_id]

    def _wake_all(self) -> None:
        for tails in self._tails.values():
            for woken in tails:
                woken.set()

    def _reason(self, exc: BaseException) -> str:
        return scrub(" ".join(str(exc).split()), self._url)


async def tail(
    store: PostgresStore, listener: Listener, run_id: str, after_seq: int
) -> AsyncIterator[Event]:
    """See :meth:`PostgresStore.tail`."""
    woken = await listener.join(run_id)

    async def wait(timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await woken.wait()
        woken.clear()

    try:
        async for event in follow(
            store,
            run_id,
            after_seq,
            wait=wait,
            status=listener.status,
            first=SAFETY_POLL_S,
            most=SAFETY_POLL_S,
        ):
            yield event
    finally:
        await listener.leave(run_id, woken)
