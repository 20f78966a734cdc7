"""``SqliteStore``: runs in one SQLite file (standard library ``sqlite3``).

Thread model: the store owns one thread and one connection; every database call runs
there, fed by a :class:`queue.Queue`. The async methods put a job on the queue and await
an asyncio future that the thread settles with ``loop.call_soon_threadsafe``, so the
event loop never waits on SQLite.

Group commit: each time the thread takes work it drains the whole queue; consecutive
appends (from any runs, branches or event loops) are written in one transaction and one
commit, and each caller's ``append`` returns once that commit is done. Appends that
arrive while a commit is in progress queue up and go into the next one together.

Events are serialised (:func:`plait.runtime.dumps_event`) by the caller before the job is
queued, so a value JSON cannot hold stores nothing and the stored event is the event as
it was when recorded. The journal is WAL with ``synchronous=NORMAL``: a commit survives a
process crash; a power loss may lose the last commits, never corrupt the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from plait.core import StoreError
from plait.runtime import (
    Event,
    RunRecord,
    dumps_event,
    from_json_value,
    loads_event,
    to_json_value,
)
from plait.runtime.ports import PRUNABLE, prunable_statuses
from plait.stores._order import check_order
from plait.stores._sqlite_schema import migrate

T = TypeVar("T")

BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's lock on the file before failing."""

_Row = tuple[str, int, str, float, str]
_RUN_COLUMNS = "run_id, flow, status, created_at, updated_at, inputs, plan, error"


@dataclass(slots=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Call(_Job):
    fn: Callable[[sqlite3.Connection], Any]


@dataclass(slots=True)
class _Append(_Job):
    run_id: str
    events: Sequence[Event]
    rows: list[_Row]


@dataclass(slots=True)
class _Stop(_Job):
    pass


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _settle(job: _Job, result: Any = None, error: BaseException | None = None) -> None:
    # RuntimeError: the caller's loop is closed, so nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(_resolve, job.future, result, error)


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
    run_id, flow, status, created_at, updated_at, inputs, plan, error = row
    return RunRecord(
        run_id=run_id,
        flow=flow,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        inputs=from_json_value(json.loads(inputs)),
        plan=None if plan is None else from_json_value(json.loads(plan)),
        error=error,
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
        self.commits = 0
        self._conn = _open(self.path)
        self._last_seq: dict[str, int] = {}  # worker thread only
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(
            target=self._serve, name=f"plait-sqlite:{self.path.name}", daemon=True
        )
        self._thread.start()

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
        )

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)", row)
            except sqlite3.IntegrityError:
                raise StoreError(f"run {record.run_id} already exists in this store") from None
            self._last_seq[record.run_id] = 0

        await self._call(insert)

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        if not events:
            return
        rows = [(run_id, e.seq, e.type, e.ts, dumps_event(e)) for e in events]
        loop = asyncio.get_running_loop()
        job = _Append(loop, loop.create_future(), run_id, tuple(events), rows)
        self._submit(job)
        await job.future

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
        self, *, flow: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[RunRecord]:
        where, params = [], []
        if flow is not None:
            where.append("flow = ?")
            params.append(flow)
        if status is not None:
            where.append("status = ?")
            params.append(status)
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
            self._last_seq.pop(run_id, None)
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
            self._last_seq.clear()  # rebuilt on the next appends
            return int(count)

        return int(await self._call(delete))

    async def close(self) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        stop = _Stop(loop, loop.create_future())
        self._closed = True
        self._queue.put(stop)  # after every job already queued
        await stop.future
        self._thread.join()

    # ------------------------------------------------------------ handing work over

    def _submit(self, job: _Job) -> None:
        if self._closed:
            raise StoreError(f"SQLite store {self.path} is closed; open a new SqliteStore")
        self._queue.put(job)

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        job = _Call(loop, loop.create_future(), fn)
        self._submit(job)
        result: T = await job.future
        return result

    # ------------------------------------------------------------ the store's thread

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            appends: list[_Append] = []
            for i, job in enumerate(batch):
                if isinstance(job, _Append):
                    appends.append(job)
                    continue
                if appends:
                    self._write(appends)
                    appends = []
                if isinstance(job, _Stop):
                    self._stop(job, batch[i + 1 :])
                    return
                if isinstance(job, _Call):
                    self._run_call(job)
            if appends:
                self._write(appends)

    def _run_call(self, job: _Call) -> None:
        try:
            result = job.fn(self._conn)
        except sqlite3.Error as exc:
            self._rollback()
            _settle(job, error=StoreError(f"SQLite store {self.path}: {exc}"))
        except BaseException as exc:  # handed to the caller
            self._rollback()
            _settle(job, error=exc)
        else:
            _settle(job, result)

    def _stop(self, stop: _Stop, rest: list[_Job]) -> None:
        for job in rest:
            _settle(job, error=StoreError(f"SQLite store {self.path} is closed"))
        try:
            self._conn.close()
        except sqlite3.Error as exc:
            _settle(stop, error=StoreError(f"closing SQLite store {self.path}: {exc}"))
        else:
            _settle(stop)

    def _rollback(self) -> None:
        # A failed ROLLBACK (broken connection) shows in the next call's error instead.
        with contextlib.suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def _stored_last_seq(self, run_id: str) -> int | None:
        """The run's last stored seq (cached); None for an unknown run."""
        last = self._last_seq.get(run_id)
        if last is not None:
            return last
        conn = self._conn
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            return None
        row = conn.execute("SELECT max(seq) FROM events WHERE run_id = ?", (run_id,)).fetchone()
        last = int(row[0] or 0)
        self._last_seq[run_id] = last
        return last

    def _write(self, jobs: list[_Append]) -> None:
        """Write ``jobs`` in one transaction; settle each with its own outcome."""
        conn = self._conn
        pending: dict[str, int] = {}
        written: list[_Append] = []
        refused: list[tuple[_Append, StoreError]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                last = pending.get(job.run_id)
                if last is None:
                    last = self._stored_last_seq(job.run_id)
                if last is None:
                    error = StoreError(f"run {job.run_id} is not in this store; create it first")
                    refused.append((job, error))
                    continue
                try:
                    check_order(job.run_id, last, job.events)
                except StoreError as exc:
                    refused.append((job, exc))
                    continue
                conn.executemany("INSERT INTO events VALUES (?,?,?,?,?)", job.rows)
                pending[job.run_id] = job.rows[-1][1]
                written.append(job)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            for job in jobs:
                self._last_seq.pop(job.run_id, None)  # another process may have written
            if len(jobs) > 1:  # find the culprit: write each alone
                for job in jobs:
                    self._write([job])
                return
            message = f"SQLite store {self.path}: could not append to run {jobs[0].run_id}"
            _settle(jobs[0], error=StoreError(f"{message}: {exc}; nothing of it was stored"))
            return
        except Exception as exc:  # a bug or a bad argument: fail the callers, keep serving
            self._rollback()
            for job in jobs:
                _settle(job, error=exc)
            return
        self.commits += 1
        self._last_seq.update(pending)
        for job in written:
            _settle(job)
        for job, error in refused:
            _settle(job, error=error)
