"""The PostgreSQL store's tables, as numbered migrations.

Every migration runs once, in order, inside the transaction that :func:`migrate` opens
under a transaction-level advisory lock, so processes opening the same schema at once
apply each migration exactly once. ``{s}`` stands for the store's schema.

Events are kept as the JSON text :func:`~plait.runtime.dumps_event` and
:func:`~plait.runtime.dumps_events` write, one row per appended batch (``TEXT``, not
``JSONB``): it round-trips byte for byte, costs no server-side parsing, and may hold
``\\u0000`` escapes, which ``JSONB`` refuses. So are a run's inputs since migration 3
(``runs.inputs_text``; runs made before keep theirs in the ``JSONB`` column ``inputs``).
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

from plait.core import StoreError

MIGRATIONS: list[list[str]] = [
    # 1: runs and their event logs.
    [
        """CREATE TABLE {s}.runs (
            run_id     TEXT PRIMARY KEY,
            flow       TEXT NOT NULL,
            status     TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            inputs     JSONB NOT NULL,
            plan       JSONB,
            error      TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE {s}.events (
            run_id TEXT NOT NULL REFERENCES {s}.runs (run_id) ON DELETE CASCADE,
            seq    BIGINT NOT NULL,
            type   TEXT NOT NULL,
            ts     DOUBLE PRECISION NOT NULL,
            body   TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)
        )""",
        "CREATE INDEX runs_created ON {s}.runs (created_at DESC, run_id DESC)",
        "CREATE INDEX runs_flow_created ON {s}.runs (flow, created_at DESC, run_id DESC)",
        "CREATE INDEX runs_status_created ON {s}.runs (status, created_at DESC, run_id DESC)",
    ],
    # 2: run leases (who runs a run now) and the step cache (values as JSON text, like
    # events).
    [
        "ALTER TABLE {s}.runs ADD COLUMN owner TEXT NOT NULL DEFAULT '',"
        " ADD COLUMN lease_until DOUBLE PRECISION NOT NULL DEFAULT 0",
        """CREATE TABLE {s}.cache (
            key        TEXT PRIMARY KEY,
            value      TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION
        )""",
    ],
    # 3: value format 2. Which format a run's values and a cache value are stored in
    # (1 for those stored before); a run's inputs as JSON text, like events (JSONB
    # refuses \u0000 and does not keep the order of keys).
    [
        "ALTER TABLE {s}.runs ADD COLUMN format INTEGER NOT NULL DEFAULT 1,"
        " ADD COLUMN inputs_text TEXT, ALTER COLUMN inputs DROP NOT NULL",
        "ALTER TABLE {s}.cache ADD COLUMN format INTEGER NOT NULL DEFAULT 1",
    ],
    # 4: followers (Store.tail) hear of a run's new events and status changes: a NOTIFY
    # on the channel 'tail:{schema}' (cut to 63 bytes) whose payload is the run id only
    # (payloads are limited to 8000 bytes; the follower reads the rest). Only for runs
    # someone follows (a row in followers: the run and the backend pid of the
    # follower's connection), since a NOTIFY serialises commits: appends to runs nobody
    # follows pay one index probe, not that.
    [
        """CREATE TABLE {s}.followers (
            run_id TEXT NOT NULL,
            pid    INTEGER NOT NULL,
            PRIMARY KEY (run_id, pid)
        )""",
        """CREATE FUNCTION {s}.tail_events() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(left('tail:' || TG_TABLE_SCHEMA, 63), r.run_id)
            FROM (SELECT DISTINCT a.run_id FROM appended AS a WHERE EXISTS (
                SELECT 1 FROM {s}.followers AS f WHERE f.run_id = a.run_id)) AS r;
            RETURN NULL;
        END $$""",
        """CREATE FUNCTION {s}.tail_status() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM {s}.followers AS f WHERE f.run_id = NEW.run_id) THEN
                PERFORM pg_notify(left('tail:' || TG_TABLE_SCHEMA, 63), NEW.run_id);
            END IF;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER tail_events AFTER INSERT ON {s}.events REFERENCING NEW TABLE AS"
        " appended FOR EACH STATEMENT EXECUTE FUNCTION {s}.tail_events()",
        "CREATE TRIGGER tail_status AFTER UPDATE OF status ON {s}.runs FOR EACH ROW"
        " WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION {s}.tail_status()",
    ],
    # 5: one row per appended batch of events (see plait.stores._batches): ``seq`` is
    # its first event's, ``last`` its last event's; rows written before hold one event
    # each and have ``last`` NULL.
    ["ALTER TABLE {s}.events ADD COLUMN last BIGINT"],
]
"""``MIGRATIONS[n - 1]`` brings a schema from version ``n - 1`` to ``n``. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)


def _sql(text: str, schema: str) -> sql.Composed:
    return sql.SQL(text).format(s=sql.Identifier(schema))


async def migrate(conn: AsyncConnection[Any], schema: str) -> int:
    """Bring ``schema`` to :data:`SCHEMA_VERSION`; return the version it had before.

    Raises :class:`StoreError` when the schema is newer than this plait knows.
    """
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"plait.schema:{schema}",)
        )
        await conn.execute(_sql("CREATE SCHEMA IF NOT EXISTS {s}", schema))
        await conn.execute(
            _sql(
                "CREATE TABLE IF NOT EXISTS {s}.schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                schema,
            )
        )
        cur = await conn.execute(_sql("SELECT max(version) FROM {s}.schema_version", schema))
        row = await cur.fetchone()
        current = int(row[0]) if row is not None and row[0] is not None else 0
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"PostgreSQL schema {schema!r} has store schema version {current}, newer than "
                f"this plait knows ({SCHEMA_VERSION}); upgrade plait (pip install -U plait) "
                "to use this store"
            )
        # Every statement of every migration due, in one round trip (a new schema's
        # tables, indexes and triggers are some twenty statements).
        script = [
            _sql(statement, schema)
            for version in range(current + 1, SCHEMA_VERSION + 1)
            for statement in (
                *MIGRATIONS[version - 1],
                f"INSERT INTO {{s}}.schema_version (version) VALUES ({version:d})",
            )
        ]
        if script:
            await conn.execute(sql.SQL(";\n").join(script))
    return current
