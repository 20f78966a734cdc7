"""``SqliteStore``: runs in one SQLite file (standard library ``sqlite3``).

Thread model and group commit: see :mod:`plait.stores._sqlite_thread`; the store owns
one thread and one connection, and every database call runs there.

Events are serialised (:func:`plait.runtime.dumps_event`) by the caller before the job is
queued, so a value JSON cannot hold stores nothing and the stored event is the event as
it was when recorded; cache values likewise. The journal is WAL with
``synchronous=NORMAL``: a commit survives a process crash; a power loss may lose the last
commits, never corrupt the file.

Leases are two columns of the run's row, so they go with the run; ``acquire`` is one
``UPDATE ... WHERE`` on that row, which SQLite's single writer makes atomic across
processes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from plait.core import StoreError
from plait.runtime import (
    CacheEntry,
    Event,
    RunRecord,
    dumps_event,
    from_json_value,
    loads_event,
    to_json_value,
)
from plait.runtime.ports import PRUNABLE, prunable_statuses
from plait.stores._sqlite_schema import migrate
from plait.stores._sqlite_thread import SqliteWorker
from plait.stores._values import check_lease, dumps_value, expires_at, is_live, loads_value

T = TypeVar("T")

BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's lock on the file before failing."""

_RUN_COLUMNS = (
    "run_id, flow, status, created_at, updated_at, inputs, plan, error, owner, lease_until"
)
_ACQUIRE = (
    "UPDATE runs SET owner = ?, lease_until = ? "
    "WHERE run_id = ? AND (owner = '' OR owner = ? OR lease_until < ? OR owner = ?)"
)
_RELEASE = "UPDATE runs SET owner = '', lease_until = 0 WHERE run_id = ? AND owner = ?"
_CACHE_PUT = (
    "INSERT INTO cache (key, value, created_at, expires_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
    "created_at = excluded.created_at, expires_at = excluded.expires_at"
)


def _open(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for SQLite store {path}: {exc}") from None
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open SQLite store {path}: {exc}") from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        migrate(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(
            f"{path} is not a usable SQLite database ({exc}); point the store at a new "
            "file, or move this one away"
        ) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, flow, status, created_at, updated_at, inputs, plan, error, owner, until = row
    return RunRecord(
        run_id=run_id,
        flow=flow,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        inputs=from_json_value(json.loads(inputs)),
        plan=None if plan is None else from_json_value(json.loads(plan)),
        error=error,
        owner=owner,
        lease_until=until,
    )


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

    @property
    def commits(self) -> int:
        """How many append transactions this store has committed."""
        return self._worker.commits

    # ------------------------------------------------------------ the async API

    async def create_run(self, record: RunRecord) -> None:
        inputs = json.dumps(to_json_value(record.inputs, f"run {record.run_id} inputs"))
        plan = None
        if record.plan is not None:
            plan = json.dumps(to_json_value(record.plan, f"run {record.run_id} plan"))
        row = (
            record.run_id,
            record.flow,
            record.status,
            record.created_at,
            record.updated_at,
            inputs,
            plan,
            record.error,
            record.owner,
            record.lease_until,
        )

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row)
            except sqlite3.IntegrityError:
                raise StoreError(f"run {record.run_id} already exists in this store") from None
            self._worker.created(record.run_id)

        await self._call(insert)

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        rows = [(run_id, e.seq, e.type, e.ts, dumps_event(e)) for e in events]
        await self._worker.append(run_id, events, rows)

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None:
        def update(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, error = ?, updated_at = ? WHERE run_id = ?",
                (status, error, time.time(), run_id),
            )
            if cursor.rowcount == 0:
                raise StoreError(f"run {run_id} is not in this store")

        await self._call(update)

    async def get_run(self, run_id: str) -> RunRecord | None:
        def select(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?"
            row: tuple[Any, ...] | None = conn.execute(sql, (run_id,)).fetchone()
            return row

        row = await self._call(select)
        return None if row is None else _record(row)

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
            ("flow = ?", flow),
            ("status = ?", status),
            ("created_at >= ?", since),
            ("created_at < ?", before),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"

        def select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(sql, (*params, limit)).fetchall()

        return [_record(row) for row in await self._call(select)]

    async def read(self, run_id: str, *, after: int = 0) -> list[Event]:
        def select(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            rows: list[tuple[int, str]] = conn.execute(
                "SELECT seq, body FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
                (run_id, after),
            ).fetchall()
            if (
                not rows
                and conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                is None
            ):
                raise StoreError(f"run {run_id} is not in this store")
            return rows

        out: list[Event] = []
        for seq, body in await self._call(select):
            try:
                event = loads_event(body)
            except StoreError as exc:
                raise StoreError(f"{self.path}: run {run_id}, event #{seq}: {exc}") from None
            if event.run_id != run_id or event.seq != seq:
                raise StoreError(
                    f"{self.path}: run {run_id}, event #{seq} holds event #{event.seq} of run "
                    f"{event.run_id} (corrupted log?)"
                )
            out.append(event)
        return out

    async def delete_run(self, run_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            found = conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount > 0
            conn.execute("COMMIT")
            self._worker.forget(run_id)
            return found

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

        return bool(await self._call(update))

    async def release(self, run_id: str, owner: str) -> None:
        def update(conn: sqlite3.Connection) -> None:
            if conn.execute(_RELEASE, (run_id, owner)).rowcount == 0:
                self._require(conn, run_id)

        await self._call(update)

    async def cache_get(self, key: str) -> CacheEntry | None:
        def select(conn: sqlite3.Connection) -> tuple[str, float, float | None] | None:
            sql = "SELECT value, created_at, expires_at FROM cache WHERE key = ?"
            row: tuple[str, float, float | None] | None = conn.execute(sql, (key,)).fetchone()
            return row

        row = await self._call(select)
        if row is None or not is_live(row[2], time.time()):
            return None
        return CacheEntry(value=loads_value(key, row[0]), created_at=row[1])

    async def cache_put(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        text = dumps_value(key, value)
        now = time.time()
        row = (key, text, now, expires_at(now, ttl))

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(_CACHE_PUT, row)

        await self._call(upsert)

    async def close(self) -> None:
        await self._worker.stop()

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._worker.call(fn)

    @staticmethod
    def _require(conn: sqlite3.Connection, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            raise StoreError(f"run {run_id} is not in this store")
