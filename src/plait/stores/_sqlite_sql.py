"""How :class:`~plait.stores.SqliteStore` opens its file, the SQL it runs there, and how
it reads a run's row back.

:func:`_open` makes the store's first connection (WAL, ``synchronous=NORMAL``, the
schema migrated), the one that never waits for a lock; :func:`_connect` the store
thread's, which does.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from plait.core import StoreError
from plait.runtime import RunRecord, value_from_text
from plait.stores._sqlite_schema import migrate

BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another process's lock on the file before failing."""

_RUN_COLUMNS = (
    "run_id, flow, status, created_at, updated_at, inputs, plan, error, owner, lease_until"
)
_RUN_SELECT = (
    "SELECT r.run_id, r.flow, r.status, r.created_at, r.updated_at, r.inputs, r.plan, "
    "r.error, r.owner, r.lease_until, i.format, i.inputs "
    "FROM runs AS r LEFT JOIN run_inputs AS i ON i.run_id = r.run_id"
)
"""Runs made before schema 3 keep their inputs in ``runs.inputs`` (format 1)."""
_READ = (
    "SELECT seq, body FROM events WHERE run_id = ? AND seq >= coalesce("
    "(SELECT max(seq) FROM events WHERE run_id = ? AND seq <= ?), 0) "
    "AND coalesce(last, seq) > ? ORDER BY seq"
)
"""A run's rows that hold events after a seq: from the row holding that seq on."""
_ACQUIRE = (
    "UPDATE runs SET owner = ?, lease_until = ? "
    "WHERE run_id = ? AND (owner = '' OR owner = ? OR lease_until < ? OR owner = ?)"
)
_RELEASE = "UPDATE runs SET owner = '', lease_until = 0 WHERE run_id = ? AND owner = ?"
_CACHE_PUT = (
    "INSERT INTO cache (key, value, created_at, expires_at, format) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, format = excluded.format, "
    "created_at = excluded.created_at, expires_at = excluded.expires_at"
)


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection to ``path`` in autocommit mode, for any thread (one at a time), that
    waits ``timeout`` seconds for another process's write lock."""
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open SQLite store {path}: {exc}") from None
    return conn


def _open(path: Path) -> sqlite3.Connection:
    """The store's first connection, on a file in WAL mode with the schema migrated. It
    then never waits for a lock (``busy_timeout`` 0): the callers' threads write on it
    only when the write lock is free (see :mod:`plait.stores._sqlite_thread`)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for SQLite store {path}: {exc}") from None
    conn = _connect(path, BUSY_TIMEOUT_S)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(conn, path)
        conn.execute("PRAGMA busy_timeout=0")
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
    run_id, flow, status, created_at, updated_at, old_inputs, plan, error, owner, until = row[:10]
    fmt, inputs = row[10:]
    where = f"run {run_id}"
    if inputs is None:  # made before schema 3
        fmt, inputs = 1, old_inputs
    return RunRecord(
        run_id=run_id,
        flow=flow,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        inputs=value_from_text(inputs, f"the stored inputs of {where}", fmt),
        plan=None if plan is None else value_from_text(plan, f"the stored plan of {where}", fmt),
        error=error,
        owner=owner,
        lease_until=until,
    )
