"""The SQLite store's own thread: one connection, fed by a queue, with group commit.

Every database call runs on this thread. The store puts a job on the queue and awaits an
asyncio future that the thread settles with ``loop.call_soon_threadsafe``, so the event
loop never waits on SQLite.

Group commit: each time the thread takes work it drains the whole queue; consecutive
appends (from any runs, branches or event loops) are written in one transaction and one
commit, and each caller's ``append`` returns once that commit is done. Appends that
arrive while a commit is in progress queue up and go into the next one together.

The fast path: an append that finds the thread idle, its queue empty and the database's
write lock free commits right on the caller's thread (an INSERT and a COMMIT in WAL mode
with ``synchronous=NORMAL``: tens of microseconds, no fsync), which saves the two thread
hand-offs that otherwise cost more than the write itself — what makes a durable step
cheap when each completion must be stored before its dependants start. Whenever the write
lock is taken (another process writes), it goes through the queue, and the thread waits
for the lock as usual; the event loop never waits on another process.
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
from plait.stores._order import check_order

T = TypeVar("T")

EventRow = tuple[str, int, str, float, str]
"""An ``events`` row: run_id, seq, type, ts, body."""

FAST_ROWS = 64
FAST_BYTES = 256 * 1024
"""The largest append written on the caller's thread; a bigger one goes to the store's
thread, so that a large batch never holds up the event loop."""


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
    """Owns ``conn`` and the thread that uses it; ``commits`` counts append commits."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, fast: sqlite3.Connection | None = None
    ) -> None:
        self.path = path
        self.commits = 0
        self._conn = conn
        self._fast = fast  # busy_timeout 0: for append_now
        self._last_seq: dict[str, int] = {}  # only while holding self._using
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._using = threading.Lock()  # held by whoever writes now, on either connection
        self._done: list[tuple[_Job, Any, BaseException | None]] = []  # thread only
        self._closed = False
        self._thread = threading.Thread(
            target=self._serve, name=f"plait-sqlite:{path.name}", daemon=True
        )
        self._thread.start()

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
        fast = self._fast
        if fast is None or self._closed or not self._queue.empty():
            return False, None
        if not self._using.acquire(blocking=False):
            return False, None
        try:
            try:
                return True, fn(fast)
            except sqlite3.OperationalError as exc:
                self._rollback(fast)
                if "locked" in str(exc) or "busy" in str(exc):
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
        fast = self._fast
        if fast is None or len(rows) > FAST_ROWS or self._closed:
            return False
        size = 0
        for row in rows:
            size += len(row[4])
        if size > FAST_BYTES or not self._queue.empty():
            return False
        if not self._using.acquire(blocking=False):
            return False
        try:
            try:
                fast.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # locked: the thread waits for it instead
                return False
            ((_, error),) = self._write([_Rows(run_id, events, rows)], conn=fast)
        finally:
            self._using.release()
        if error is not None:
            raise error
        return True

    async def stop(self) -> None:
        """Finish the jobs already queued, close the connection and end the thread."""
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        stop = _Stop(loop, loop.create_future())
        self._closed = True
        self._queue.put(stop)  # after every job already queued
        await stop.future
        self._thread.join()

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
        if self._closed:
            raise StoreError(f"SQLite store {self.path} is closed; open a new SqliteStore")
        self._queue.put(job)

    # ------------------------------------------------------------ the thread's side

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            with self._using:
                stopped = self._serve_batch(batch)
            # Answer the callers once the connection is free again, so that their next
            # append can take the fast path.
            done, self._done = self._done, []
            for job, result, error in done:
                _settle(job, result, error)
            if stopped:
                return

    def _serve_batch(self, batch: list[_Job]) -> bool:
        """Do ``batch`` and whatever queued up meanwhile; True once the worker stopped."""
        while not self._queue.empty():
            batch.append(self._queue.get_nowait())
        appends: list[_Append] = []
        for i, job in enumerate(batch):
            if isinstance(job, _Append):
                appends.append(job)
                continue
            if appends:
                self._write_settled(appends)
                appends = []
            if isinstance(job, _Stop):
                self._stop(job, batch[i + 1 :])
                return True
            if isinstance(job, _Call):
                self._run_call(job)
        if appends:
            self._write_settled(appends)
        return False

    def _write_settled(self, jobs: list[_Append]) -> None:
        for job, error in self._write(jobs):
            self._answer(job, error=error)

    def _answer(self, job: _Job, result: Any = None, error: BaseException | None = None) -> None:
        self._done.append((job, result, error))

    def _run_call(self, job: _Call) -> None:
        try:
            result = job.fn(self._conn)
        except sqlite3.Error as exc:
            self._rollback()
            self._answer(job, error=StoreError(f"SQLite store {self.path}: {exc}"))
        except BaseException as exc:  # handed to the caller
            self._rollback()
            self._answer(job, error=exc)
        else:
            self._answer(job, result)

    def _stop(self, stop: _Stop, rest: list[_Job]) -> None:
        for job in rest:
            self._answer(job, error=StoreError(f"SQLite store {self.path} is closed"))
        try:  # the caller (_serve) holds self._using
            if self._fast is not None:
                self._fast.close()
            self._conn.close()
        except sqlite3.Error as exc:
            self._answer(stop, error=StoreError(f"closing SQLite store {self.path}: {exc}"))
        else:
            self._answer(stop)

    def _rollback(self, conn: sqlite3.Connection | None = None) -> None:
        # A failed ROLLBACK (broken connection) shows in the next call's error instead.
        conn = self._conn if conn is None else conn
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
        row = conn.execute("SELECT max(seq) FROM events WHERE run_id = ?", (run_id,)).fetchone()
        last = int(row[0] or 0)
        self._last_seq[run_id] = last
        return last

    def _write(
        self, jobs: list[_B], *, conn: sqlite3.Connection | None = None
    ) -> list[tuple[_B, BaseException | None]]:
        """Write ``jobs`` in one transaction; each job's outcome: None when stored, else
        the error that refused it. ``conn``: the fast connection, its transaction begun."""
        begun = conn is not None
        if conn is None:
            conn = self._conn
        pending: dict[str, int] = {}
        outcomes: list[tuple[_B, BaseException | None]] = []
        try:
            if not begun:
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
                conn.executemany("INSERT INTO events VALUES (?,?,?,?,?)", job.rows)
                pending[job.run_id] = job.rows[-1][1]
                outcomes.append((job, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            for job in jobs:
                self._last_seq.pop(job.run_id, None)  # another process may have written
            if len(jobs) > 1:  # find the culprit: write each alone
                return [outcome for job in jobs for outcome in self._write([job])]
            message = f"SQLite store {self.path}: could not append to run {jobs[0].run_id}"
            return [(jobs[0], StoreError(f"{message}: {exc}; nothing of it was stored"))]
        except Exception as exc:  # a bug or a bad argument: fail the callers, keep serving
            self._rollback(conn)
            return [(job, exc) for job in jobs]
        self.commits += 1
        self._last_seq.update(pending)
        return outcomes
