"""The SQLite store's connections and its thread, with group commit.

The fast path: an append or a small call (a run's record, status, lease) that finds
nobody using the store and the database's write lock free runs right on the caller's
thread, on the store's first connection, which never waits for a lock (an INSERT in WAL
mode with ``synchronous=NORMAL``: tens of microseconds, no fsync). That saves the two
thread hand-offs that otherwise cost more than the write itself, and is what makes a
durable step cheap when each completion must be stored before its dependants start. An
append of one row (see :mod:`plait.stores._batches`) is one INSERT that commits alone.

Everything else goes to the store's own thread, started (with a connection of its own)
the first time something needs it: reads, large appends, and any write that finds the
write lock taken (another process writes), which the thread waits for, so the event loop
never waits on another process. The store puts a job on the queue and awaits an asyncio
future that the thread settles with ``loop.call_soon_threadsafe``.

Group commit: each time the thread takes work it drains the whole queue; consecutive
appends (from any runs, branches or event loops) are written in one transaction and one
commit, and each caller's ``append`` returns once that commit is done. Appends that
arrive while a commit is in progress queue up and go into the next one together.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from plait.core import StoreError
from plait.runtime import Event
from plait.stores._batches import EventRow
from plait.stores._order import check_order
from plait.stores._sqlite_sql import BUSY_TIMEOUT_S, _connect

T = TypeVar("T")

FAST_BYTES = 256 * 1024
"""The largest append written on the caller's thread; a bigger one goes to the store's
thread, so that a large batch never holds up the event loop."""

_INSERT = "INSERT INTO events (run_id, seq, last, type, ts, body) VALUES (?,?,?,?,?,?)"


class _Busy(Exception):
    """The database's write lock is taken: nothing was written (the thread waits)."""


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
    rows: list[EventRow]


@dataclass(slots=True)
class _Stop(_Job):
    pass


@dataclass(slots=True)
class _Rows:
    """An append written on the caller's thread (no future to answer)."""

    run_id: str
    events: Sequence[Event]
    rows: list[EventRow]


_B = TypeVar("_B", _Append, _Rows)


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


class SqliteWorker:
    """Owns the store's connections and thread; ``commits`` counts append commits."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self.commits = 0
        self._fast = conn  # busy_timeout 0: for the callers' threads
        self._last_seq: dict[str, int] = {}  # only while holding self._using
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._using = threading.Lock()  # held by whoever writes now, on either connection
        self._starting = threading.Lock()  # guards _thread and _closed
        self._done: list[tuple[_Job, Any, BaseException | None]] = []  # thread only
        self._closed = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ the caller's side

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` on the thread; a ``sqlite3.Error`` comes back as a StoreError and
        rolls back any transaction ``fn`` left open."""
        loop = asyncio.get_running_loop()
        job = _Call(loop, loop.create_future(), fn)
        self._submit(job)
        result: T = await job.future
        return result

    def call_now(self, fn: Callable[[sqlite3.Connection], T]) -> tuple[bool, T | None]:
        """``fn(conn)`` right here on the fast connection when nobody uses the store:
        ``(True, result)``. ``(False, None)``, with nothing done, when the store is busy
        or the database's write lock is taken (then use :meth:`call`). For small calls
        whose first write either takes the lock or fails with nothing written (one
        statement, or ``BEGIN IMMEDIATE`` first): a run's record, status and lease."""
        if self._closed or not self._queue.empty():
            return False, None
        if not self._using.acquire(blocking=False):
            return False, None
        fast = self._fast
        try:
            try:
                return True, fn(fast)
            except sqlite3.OperationalError as exc:
                self._rollback(fast)
                if _locked(exc):
                    return False, None  # the thread waits for the lock instead
                raise StoreError(f"SQLite store {self.path}: {exc}") from None
            except sqlite3.Error as exc:
                self._rollback(fast)
                raise StoreError(f"SQLite store {self.path}: {exc}") from None
            except BaseException:
                self._rollback(fast)
                raise
        finally:
            self._using.release()

    async def append(self, run_id: str, events: Sequence[Event], rows: list[EventRow]) -> None:
        if self.append_now(run_id, events, rows):
            return
        loop = asyncio.get_running_loop()
        job = _Append(loop, loop.create_future(), run_id, tuple(events), rows)
        self._submit(job)
        await job.future

    def append_now(self, run_id: str, events: Sequence[Event], rows: list[EventRow]) -> bool:
        """Commit the append on the caller's thread, if nobody uses the connection and
        the database's write lock is free: True once committed (raises its StoreError
        when refused). False, with nothing done, otherwise: then use :meth:`append`."""
        if self._closed:
            return False
        size = 0
        for row in rows:
            size += len(row[5])
        if size > FAST_BYTES or not self._queue.empty():
            return False
        if not self._using.acquire(blocking=False):
            return False
        fast = self._fast
        try:
            last = self._last_seq.get(run_id) if len(rows) == 1 else None
            if last is not None and self._insert_alone(run_id, last, events, rows[0]):
                return True
            begun = len(rows) > 1  # one row commits alone
            try:
                if begun:
                    fast.execute("BEGIN IMMEDIATE")
                ((_, error),) = self._write([_Rows(run_id, events, rows)], conn=fast, begun=begun)
            except (sqlite3.OperationalError, _Busy):  # locked: the thread waits for it
                return False
        finally:
            self._using.release()
        if error is not None:
            raise error
        return True

    def _insert_alone(self, run_id: str, last: int, events: Sequence[Event], row: EventRow) -> bool:
        """The common append (one row of a run whose last seq is known) as one INSERT on
        the fast connection, holding ``_using``: True once committed; False, with nothing
        written, when it failed (then :meth:`_write` does it again, and says why)."""
        check_order(run_id, last, events)  # its StoreError is the caller's
        try:
            self._fast.execute(_INSERT, row)
        except sqlite3.Error:
            return False
        self._last_seq[run_id] = row[2]
        self.commits += 1
        return True

    async def stop(self) -> None:
        """Finish the jobs already queued, close the connections and end the thread."""
        with self._starting:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is None:  # never needed: close here
            with self._using:
                try:
                    self._fast.close()
                except sqlite3.Error as exc:
                    raise StoreError(f"closing SQLite store {self.path}: {exc}") from None
            return
        loop = asyncio.get_running_loop()
        stop = _Stop(loop, loop.create_future())
        self._queue.put(stop)  # after every job already queued
        await stop.future
        thread.join()

    def forget(self, run_id: str | None = None) -> None:
        """Drop the cached last seq of ``run_id`` (of every run when None). Call it on the
        thread only (inside a :meth:`call`)."""
        if run_id is None:
            self._last_seq.clear()
        else:
            self._last_seq.pop(run_id, None)

    def created(self, run_id: str) -> None:
        """Note that ``run_id`` was just created, with no events (thread only)."""
        self._last_seq[run_id] = 0

    def _submit(self, job: _Job) -> None:
        with self._starting:
            if self._closed:
                raise StoreError(f"SQLite store {self.path} is closed; open a new SqliteStore")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve,
                    args=(_connect(self.path, BUSY_TIMEOUT_S),),
                    name=f"plait-sqlite:{self.path.name}",
                    daemon=True,
                )
                self._thread.start()
            self._queue.put(job)

    # ------------------------------------------------------------ the thread's side

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            batch = [self._queue.get()]
            with self._using:
                stopped = self._serve_batch(batch, conn)
            # Answer the callers once the connection is free again, so that their next
            # append can take the fast path.
            done, self._done = self._done, []
            for job, result, error in done:
                _settle(job, result, error)
            if stopped:
                return

    def _serve_batch(self, batch: list[_Job], conn: sqlite3.Connection) -> bool:
        """Do ``batch`` and whatever queued up meanwhile; True once the worker stopped."""
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        appends: list[_Append] = []
        for i, job in enumerate(batch):
            if isinstance(job, _Append):
                appends.append(job)
                continue
            if appends:
                self._write_settled(appends, conn)
                appends = []
            if isinstance(job, _Stop):
                self._stop(job, batch[i + 1 :], conn)
                return True
            if isinstance(job, _Call):
                self._run_call(job, conn)
        if appends:
            self._write_settled(appends, conn)
        return False

    def _write_settled(self, jobs: list[_Append], conn: sqlite3.Connection) -> None:
        for job, error in self._write(jobs, conn=conn):
            self._answer(job, error=error)

    def _answer(self, job: _Job, result: Any = None, error: BaseException | None = None) -> None:
        self._done.append((job, result, error))

    def _run_call(self, job: _Call, conn: sqlite3.Connection) -> None:
        try:
            result = job.fn(conn)
        except sqlite3.Error as exc:
            self._rollback(conn)
            self._answer(job, error=StoreError(f"SQLite store {self.path}: {exc}"))
        except BaseException as exc:  # handed to the caller
            self._rollback(conn)
            self._answer(job, error=exc)
        else:
            self._answer(job, result)

    def _stop(self, stop: _Stop, rest: list[_Job], conn: sqlite3.Connection) -> None:
        for job in rest:
            self._answer(job, error=StoreError(f"SQLite store {self.path} is closed"))
        try:  # the caller (_serve) holds self._using
            self._fast.close()
            conn.close()
        except sqlite3.Error as exc:
            self._answer(stop, error=StoreError(f"closing SQLite store {self.path}: {exc}"))
        else:
            self._answer(stop)

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        # A failed ROLLBACK (broken connection) shows in the next call's error instead.
        with contextlib.suppress(sqlite3.Error):
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def _stored_last_seq(self, run_id: str, conn: sqlite3.Connection) -> int | None:
        """The run's last stored seq (cached); None for an unknown run."""
        last = self._last_seq.get(run_id)
        if last is not None:
            return last
        if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            return None
        row = conn.execute(
            "SELECT coalesce(last, seq) FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
            (run_id,),
        ).fetchone()
        last = 0 if row is None else int(row[0])
        self._last_seq[run_id] = last
        return last

    def _write(
        self, jobs: list[_B], *, conn: sqlite3.Connection, begun: bool = True
    ) -> list[tuple[_B, BaseException | None]]:
        """Write ``jobs`` in one transaction; each job's outcome: None when stored, else
        the error that refused it. On the store's thread, ``begun`` is ignored: the
        transaction begins here. On the fast connection, ``begun`` says its transaction
        has begun; when not, ``jobs`` is one row, which an INSERT commits alone, or that
        raises :class:`_Busy`, with nothing written, when the write lock is taken."""
        fast = conn is self._fast
        alone = fast and not begun
        pending: dict[str, int] = {}
        outcomes: list[tuple[_B, BaseException | None]] = []
        try:
            if not fast:
                conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                last = pending.get(job.run_id)
                if last is None:
                    last = self._stored_last_seq(job.run_id, conn)
                if last is None:
                    error = StoreError(f"run {job.run_id} is not in this store; create it first")
                    outcomes.append((job, error))
                    continue
                try:
                    check_order(job.run_id, last, job.events)
                except StoreError as exc:
                    outcomes.append((job, exc))
                    continue
                if alone:
                    conn.execute(_INSERT, job.rows[0])
                else:
                    conn.executemany(_INSERT, job.rows)
                pending[job.run_id] = job.rows[-1][2]
                outcomes.append((job, None))
            if not alone:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            if alone and isinstance(exc, sqlite3.OperationalError) and _locked(exc):
                raise _Busy from None
            for job in jobs:
                self._last_seq.pop(job.run_id, None)  # another process may have written
            if len(jobs) > 1:  # find the culprit: write each alone
                return [outcome for job in jobs for outcome in self._write([job], conn=conn)]
            message = f"SQLite store {self.path}: could not append to run {jobs[0].run_id}"
            return [(jobs[0], StoreError(f"{message}: {exc}; nothing of it was stored"))]
        except Exception as exc:  # a bug or a bad argument: fail the callers, keep serving
            self._rollback(conn)
            return [(job, exc) for job in jobs]
        self.commits += 1
        self._last_seq.update(pending)
        return outcomes


def _locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text
