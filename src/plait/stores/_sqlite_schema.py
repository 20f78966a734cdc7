"""The SQLite store's schema: numbered migrations, applied when a store opens.

Migration ``n`` (1-based) is ``MIGRATIONS[n - 1]``; the database's ``PRAGMA
user_version`` is the number of the last one applied. Never edit a released migration:
add a new one at the end.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from plait.core import StoreError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: runs and their event logs.
    (
        """
        CREATE TABLE runs (
            run_id     TEXT PRIMARY KEY,
            flow       TEXT NOT NULL,
            status     TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            inputs     TEXT NOT NULL,
            plan       TEXT,
            error      TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX runs_by_created ON runs (created_at)",
        "CREATE INDEX runs_by_flow ON runs (flow, created_at)",
        "CREATE INDEX runs_by_status ON runs (status, created_at)",
        """
        CREATE TABLE events (
            run_id TEXT NOT NULL,
            seq    INTEGER NOT NULL,
            type   TEXT NOT NULL,
            ts     REAL NOT NULL,
            body   TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID
        """,
    ),
    # 2: run leases (who runs a run now) and the step cache.
    (
        "ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN lease_until REAL NOT NULL DEFAULT 0",
        """
        CREATE TABLE cache (
            key        TEXT PRIMARY KEY,
            value      TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL
        )
        """,
    ),
    # 3: value format 2. A run's inputs move to a table of their own, so that updating
    # the run's row (status, lease) does not rewrite them (SQLite rewrites a whole row);
    # runs made before keep theirs in runs.inputs (format 1). Cache values say their
    # format.
    (
        """
        CREATE TABLE run_inputs (
            run_id TEXT PRIMARY KEY,
            format INTEGER NOT NULL,
            inputs TEXT NOT NULL
        )
        """,
        "ALTER TABLE cache ADD COLUMN format INTEGER NOT NULL DEFAULT 1",
    ),
    # 4: one row per appended batch of events (see plait.stores._batches): ``seq`` is
    # its first event's, ``last`` its last event's; rows written before hold one event
    # each and have ``last`` NULL.
    ("ALTER TABLE events ADD COLUMN last INTEGER",),
)

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this plait writes and reads."""

FRESH: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        run_id      TEXT PRIMARY KEY,
        flow        TEXT NOT NULL,
        status      TEXT NOT NULL,
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL,
        inputs      TEXT NOT NULL,
        plan        TEXT,
        error       TEXT NOT NULL DEFAULT '',
        owner       TEXT NOT NULL DEFAULT '',
        lease_until REAL NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX runs_by_created ON runs (created_at)",
    "CREATE INDEX runs_by_flow ON runs (flow, created_at)",
    "CREATE INDEX runs_by_status ON runs (status, created_at)",
    """
    CREATE TABLE events (
        run_id TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        type   TEXT NOT NULL,
        ts     REAL NOT NULL,
        body   TEXT NOT NULL,
        last   INTEGER,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE cache (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL,
        format     INTEGER NOT NULL DEFAULT 1
    )
    """,
    """
    CREATE TABLE run_inputs (
        run_id TEXT PRIMARY KEY,
        format INTEGER NOT NULL,
        inputs TEXT NOT NULL
    )
    """,
)
"""A new database's schema at :data:`SCHEMA_VERSION`, made in one step: the tables
:data:`MIGRATIONS` build one by one (the tests check they are the same), without the
``ALTER TABLE`` statements, each of which rewrites the schema (half the cost of opening
a new file). Change it with every new migration."""


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def _refuse_newer(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"SQLite store {path} has schema version {version}, newer than this plait knows "
            f"({SCHEMA_VERSION}); upgrade plait to open it"
        )


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the database at ``path`` to :data:`SCHEMA_VERSION`, in one transaction.

    ``conn`` is in autocommit mode (``isolation_level=None``). Refuses a newer schema.
    """
    version = schema_version(conn)
    _refuse_newer(version, path)
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(conn)  # another process may have migrated meanwhile
        _refuse_newer(version, path)
        due = [FRESH] if version == 0 else MIGRATIONS[version:]
        for statements in due:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
