"""``SqliteStore``: runs in one SQLite file (standard library ``sqlite3``).

Connections, thread model and group commit: see :mod:`plait.stores._sqlite_thread`.
Small writes run on the caller's thread when the database is free; the store's own
thread (started when first needed) does the rest.

Events are serialised by the caller before anything is written, one row per appended
batch (:mod:`plait.stores._batches`), so a value that cannot be stored stores nothing and
the stored event is the event as it was when recorded; cache values likewise. A run's
inputs live in a table of their own (``run_inputs``), stored once: its ``RunStarted``
refers to them, and updating the run's row (status, lease) does not copy them again. The
journal is WAL with ``synchronous=NORMAL``: a commit survives a process crash; a power
loss may lose the last commits, never corrupt the file.

Leases are two columns of the run's row, so they go with the run; ``acquire`` is one
``UPDATE ... WHERE`` on that row, which SQLite's single writer makes atomic across
processes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from plait.core import StoreError
from plait.runtime import (
    VALUE_FORMAT,
    CacheEntry,
    Event,
    RunRecord,
    needs_run_inputs,
    value_to_text,
)
from plait.runtime.ports import PRUNABLE, prunable_statuses
from plait.stores._batches import EventRow, decode_rows, event_rows, parse_rows
from plait.stores._sqlite_sql import (
    _ACQUIRE,
    _CACHE_PUT,
    _READ,
    _RELEASE,
    _RUN_COLUMNS,
    _RUN_SELECT,
    _open,
    _record,
)
from plait.stores._sqlite_thread import SqliteWorker
from plait.stores._tail import follow
from plait.stores._values import (
    FreshInputs,
    check_lease,
    dumps_value,
    expires_at,
    is_live,
    listed_record,
    loads_value,
    read_record,
)

T = TypeVar("T")


class SqliteStore:
    """Keeps runs and event logs in the SQLite file at ``path`` (folders are created).

    Opening migrates the schema (and refuses a newer one); call :meth:`close` when done.
    ``store.commits`` counts the append transactions committed so far.
    """

    def __init__(self, path: str | Path) -> None:
        if str(path) in (":memory:", ""):
            raise StoreError(
                "SqliteStore needs a file path, not an in-memory database; use "
                "plait.stores.MemoryStore to keep runs in memory only"
            )
        self.path = Path(path).expanduser()
        self._worker = SqliteWorker(_open(self.path), self.path)
        self._fresh = FreshInputs()

    @property
    def commits(self) -> int:
        """How many append transactions this store has committed."""
        return self._worker.commits

    # ------------------------------------------------------------ the async API

    async def create_run(self, record: RunRecord) -> None:
        inputs = value_to_text(record.inputs, f"run {record.run_id} inputs")
        plan = None
        if record.plan is not None:
            plan = value_to_text(record.plan, f"run {record.run_id} plan")
        row = (
            record.run_id,
            record.flow,
            record.status,
            record.created_at,
            record.updated_at,
            "",  # the inputs: in run_inputs
            plan,
            record.error,
            record.owner,
            record.lease_until,
        )

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row)
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                raise StoreError(f"run {record.run_id} already exists in this store") from None
            conn.execute(
                "INSERT OR REPLACE INTO run_inputs VALUES (?, ?, ?)",
                (record.run_id, VALUE_FORMAT, inputs),
            )
            conn.execute("COMMIT")
            self._worker.created(record.run_id)

        await self._call_now(insert)
        self._fresh.created(record.run_id, record.inputs)

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        await self._worker.append(run_id, events, self._rows(run_id, events))
        self._fresh.stored(run_id, events)

    def append_now(self, run_id: str, events: Sequence[Event]) -> bool:
        """:meth:`append` without waiting for anything: True once committed here and now;
        False, with nothing stored, when the database is busy (then await ``append``)."""
        if not events:
            return True
        if not self._worker.append_now(run_id, events, self._rows(run_id, events)):
            return False
        self._fresh.stored(run_id, events)
        return True

    def _rows(self, run_id: str, events: Sequence[Event]) -> list[EventRow]:
        """The ``events`` rows (see :mod:`plait.stores._batches`); a ``RunStarted`` with
        the inputs of the run's record refers to them instead of repeating them."""
        return event_rows(run_id, events, inputs_in_run=self._fresh.kept_with_run(run_id, events))

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None:
        def update(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE run_id = ?",
                (status, error, time.time(), run_id),
            )
            if cursor.rowcount == 0:
                raise StoreError(f"run {run_id} is not in this store")

        await self._call_now(update)

    async def get_run(self, run_id: str) -> RunRecord | None:
        def select(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            sql = f"{_RUN_SELECT} WHERE r.run_id = ?"
            row: tuple[Any, ...] | None = conn.execute(sql, (run_id,)).fetchone()
            return row

        row = await self._call_now(select)
        return None if row is None else read_record(str(self.path), row[0], lambda: _record(row))

    async def list_runs(
        self,
        *,
        flow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        since: float | None = None,
        before: float | None = None,
    ) -> list[RunRecord]:
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("r.flow = ?", flow),
            ("r.status = ?", status),
            ("r.created_at >= ?", since),
            ("r.created_at < ?", before),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = _RUN_SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?"

        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(sql, (*params, limit)).fetchall()

        name = str(self.path)
        return [
            listed_record(name, row[0], row[1], partial(_record, row))
            for row in await self._call(select)
        ]

    async def read(self, run_id: str, *, after: int = 0) -> list[Event]:
        def select(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            rows: list[tuple[int, str]] = conn.execute(
                _READ, (run_id, run_id, after, after)
            ).fetchall()
            if (
                not rows
                and conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                is None
            ):
                raise StoreError(f"run {run_id} is not in this store")
            return rows

        def where(seq: int) -> str:
            return f"{self.path}: run {run_id}, event #{seq}"

        parsed = parse_rows(await self._call(select), after, where)
        inputs = None
        if parsed and needs_run_inputs(parsed[0][1]):
            record = await self.get_run(run_id)
            inputs = None if record is None else record.inputs
        return decode_rows(run_id, parsed, inputs, where)

    async def tail(self, run_id: str, *, after_seq: int = 0) -> AsyncIterator[Event]:
        """The run's events after ``after_seq`` as any process appends them, until it
        ends (see :mod:`plait.stores._tail`): polled, 5 ms apart after events came,
        backing off to 200 ms while none do."""
        async for event in follow(self, run_id, after_seq, status=self._status):
            yield event

    async def _status(self, run_id: str) -> str | None:
        def select(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            return None if row is None else str(row[0])

        return await self._call(select)

    async def delete_run(self, run_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM run_inputs WHERE run_id = ?", (run_id,))
            found = conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount > 0
            conn.execute("COMMIT")
            self._worker.forget(run_id)
            return found

        self._fresh.forget(run_id)
        return bool(await self._call(delete))

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
        marks = ",".join("?" * len(wanted))
        where = f"status IN ({marks})" + ("" if flow is None else " AND flow = ?")
        params: list[Any] = [*wanted, *([] if flow is None else [flow])]
        doomed = (
            "SELECT run_id FROM (SELECT run_id, updated_at, row_number() OVER ("
            "PARTITION BY flow ORDER BY created_at DESC, run_id DESC) AS rank "
            f"FROM runs WHERE {where}) WHERE rank > ?"
        )
        params.append(keep_latest or 0)
        if older_than is not None:
            doomed += " AND updated_at < ?"
            params.append(older_than)

        def delete(conn: sqlite3.Connection) -> int:
            if dry_run:
                return int(conn.execute(f"SELECT count(*) FROM ({doomed})", params).fetchone()[0])
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"DELETE FROM events WHERE run_id IN ({doomed})", params)
            conn.execute(f"DELETE FROM run_inputs WHERE run_id IN ({doomed})", params)
            count = conn.execute(f"DELETE FROM runs WHERE run_id IN ({doomed})", params).rowcount
            conn.execute("COMMIT")
            self._worker.forget()  # rebuilt on the next appends
            return int(count)

        return int(await self._call(delete))

    async def acquire(self, run_id: str, owner: str, ttl: float, *, replace: str = "") -> bool:
        check_lease(owner, ttl)
        now = time.time()

        def update(conn: sqlite3.Connection) -> bool:
            swap = replace or owner  # owner = '' never holds: no takeover without replace
            cursor = conn.execute(_ACQUIRE, (owner, now + ttl, run_id, owner, now, swap))
            if cursor.rowcount == 0:
                self._require(conn, run_id)
                return False
            return True

        return bool(await self._call_now(update))

    async def release(self, run_id: str, owner: str) -> None:
        def update(conn: sqlite3.Connection) -> None:
            if conn.execute(_RELEASE, (run_id, owner)).rowcount == 0:
                self._require(conn, run_id)

        await self._call_now(update)

    async def cache_get(self, key: str) -> CacheEntry | None:
        def select(conn: sqlite3.Connection) -> tuple[str, float, float | None, int] | None:
            sql = "SELECT value, created_at, expires_at, format FROM cache WHERE key = ?"
            row: tuple[str, float, float | None, int] | None = conn.execute(sql, (key,)).fetchone()
            return row

        row = await self._call(select)
        if row is None or not is_live(row[2], time.time()):
            return None
        return CacheEntry(value=loads_value(key, row[0], row[3]), created_at=row[1])

    async def cache_put(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        text = dumps_value(key, value)
        now = time.time()
        row = (key, text, now, expires_at(now, ttl), VALUE_FORMAT)

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(_CACHE_PUT, row)

        await self._call(upsert)

    async def close(self) -> None:
        await self._worker.stop()

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._worker.call(fn)

    async def _call_now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """:meth:`_call` for a run's small calls (its record, status and lease): done
        right here when the store is idle, which saves the two thread hand-offs."""
        done, result = self._worker.call_now(fn)
        if done:
            return result  # type: ignore[return-value]
        return await self._worker.call(fn)

    @staticmethod
    def _require(conn: sqlite3.Connection, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            raise StoreError(f"run {run_id} is not in this store")
