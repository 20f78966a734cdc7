"""PostgresStore passes the store conformance suite against a real PostgreSQL.

Each store lives in a fresh random schema of database ``test`` on 127.0.0.1:5432; the
schemas are dropped when the module's tests end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator

import pytest

if os.environ.get("PLAIT_TEST_NO_POSTGRES") == "1":
    pytest.skip("PostgreSQL is not installed here", allow_module_level=True)

import psycopg
from psycopg import sql

from plait.core import StoreError
from plait.runtime import (
    Event,
    RunRecord,
    RunStarted,
    StateChanged,
    StepStarted,
    Store,
    dumps_event,
)
from plait.stores._postgres import PostgresStore
from plait.stores._postgres_schema import MIGRATIONS, SCHEMA_VERSION
from plait.testing import conformance

pytestmark = pytest.mark.postgres

URL = os.environ.get("PLAIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def schemas() -> Iterator[list[str]]:
    """Names of the schemas the tests made; dropped at the end."""
    made: list[str] = []
    yield made
    with psycopg.connect(URL, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def fresh_schema(schemas: list[str]) -> str:
    name = f"plait_test_{uuid.uuid4().hex[:12]}"
    schemas.append(name)
    return name


class PostgresFactory:
    durable = True

    def __init__(self, schemas: list[str]) -> None:
        self._schemas = schemas
        self.schema = ""

    async def new(self) -> Store:
        self.schema = fresh_schema(self._schemas)
        return await PostgresStore.connect(URL, schema=self.schema, max_size=4)

    async def reopen(self) -> Store:
        return await PostgresStore.connect(URL, schema=self.schema, max_size=4)


@pytest.mark.parametrize("case", conformance.CASES, ids=lambda c: c.__name__)
def test_postgres_store_conforms(
    case: Callable[[conformance.StoreFactory], Awaitable[None]], schemas: list[str]
) -> None:
    asyncio.run(case(PostgresFactory(schemas)))


def test_is_a_store(schemas: list[str]) -> None:
    async def main() -> None:
        store = await PostgresStore.connect(URL, schema=fresh_schema(schemas))
        try:
            assert isinstance(store, Store)
        finally:
            await store.close()
            await store.close()  # idempotent

    asyncio.run(main())


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("postgresql://postgres@127.0.0.1:1/test", ["127.0.0.1:1", "port"]),
        ("postgresql://no_such_user_plait@127.0.0.1:5432/test", ["no_such_user_plait", "user"]),
        ("postgresql://postgres@127.0.0.1:5432/no_such_db_plait", ["no_such_db_plait"]),
    ],
    ids=["wrong-port", "wrong-user", "wrong-database"],
)
def test_unreachable_or_refused_server_is_a_store_error(url: str, names: list[str]) -> None:
    with pytest.raises(StoreError) as info:
        asyncio.run(PostgresStore.connect(url, schema="plait_never_made"))
    assert not isinstance(info.value, psycopg.Error)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    for name in names:
        assert name in str(info.value)


def test_bad_schema_name_is_refused() -> None:
    with pytest.raises(StoreError, match="schema name"):
        PostgresStore(URL, schema='x"; DROP TABLE runs; --')


def test_newer_schema_version_is_refused(schemas: list[str]) -> None:
    schema = fresh_schema(schemas)

    async def main() -> None:
        await (await PostgresStore.connect(URL, schema=schema)).close()
        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_version (version) VALUES (%s)").format(
                    sql.Identifier(schema)
                ),
                (SCHEMA_VERSION + 1,),
            )
        with pytest.raises(StoreError, match="upgrade plait"):
            await PostgresStore.connect(URL, schema=schema)

    asyncio.run(main())


def test_concurrent_opens_migrate_once(schemas: list[str]) -> None:
    schema = fresh_schema(schemas)

    async def main() -> None:
        stores = await asyncio.gather(
            *(PostgresStore.connect(URL, schema=schema, max_size=2) for _ in range(5))
        )
        for store in stores:
            await store.close()

    asyncio.run(main())
    with psycopg.connect(URL) as conn:
        cur = conn.execute(
            sql.SQL("SELECT version FROM {}.schema_version").format(sql.Identifier(schema))
        )
        assert [row[0] for row in cur.fetchall()] == list(range(1, SCHEMA_VERSION + 1))


def test_corrupted_event_is_a_store_error_naming_run_and_seq(schemas: list[str]) -> None:
    schema = fresh_schema(schemas)

    async def main() -> None:
        store = await PostgresStore.connect(URL, schema=schema)
        try:
            await store.create_run(RunRecord(run_id="r1", flow="f"))
            await store.append("r1", [RunStarted(run_id="r1", seq=1, ts=1.0, flow="f", state={})])
            # a row of its own (an append is one row)
            await store.append(
                "r1", [StepStarted(run_id="r1", seq=2, ts=2.0, step="s", invocation=1)]
            )
            with psycopg.connect(URL, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("UPDATE {}.events SET body = %s WHERE seq = 2").format(
                        sql.Identifier(schema)
                    ),
                    ('{"v": 1, "type": "StepSta',),
                )
            with pytest.raises(StoreError, match=r"run r1, event #2") as info:
                await store.read("r1")
            assert "corrupted" in str(info.value)
            assert await store.read("r1", after=2) == []
        finally:
            await store.close()

    asyncio.run(main())


def test_two_writers_of_one_run_exactly_one_wins(schemas: list[str]) -> None:
    """Two stores (as two processes) append the same seqs at once: one batch is stored
    whole, the other is refused whole."""
    schema = fresh_schema(schemas)

    async def main() -> None:
        a = await PostgresStore.connect(URL, schema=schema)
        b = await PostgresStore.connect(URL, schema=schema)
        try:
            await a.create_run(RunRecord(run_id="r1", flow="f"))
            batches = [
                [
                    StepStarted(run_id="r1", seq=seq, ts=1.0, step=name, invocation=1)
                    for seq in (1, 2)
                ]
                for name in ("a", "b")
            ]
            results = await asyncio.gather(
                a.append("r1", batches[0]), b.append("r1", batches[1]), return_exceptions=True
            )
            assert sorted(type(r).__name__ for r in results) == ["NoneType", "StoreError"]
            winner = batches[results.index(None)]
            assert await a.read("r1") == winner
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_use_after_close_is_a_store_error(schemas: list[str]) -> None:
    async def main() -> None:
        store = await PostgresStore.connect(URL, schema=fresh_schema(schemas))
        await store.close()
        with pytest.raises(StoreError, match="not open"):
            await store.get_run("r1")

    asyncio.run(main())


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_stores_does_not_import_psycopg() -> None:
    done = _python("import sys, plait.stores; print('psycopg' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_missing_psycopg_names_the_extra() -> None:
    done = _python(
        "import sys; sys.modules['psycopg'] = None\n"
        "from plait.core import MissingExtraError\n"
        "try:\n    import plait.stores._postgres\n"
        "except MissingExtraError as exc:\n    print(exc)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'plait[postgres]'" in done.stdout


def test_schema_version_1_migrates_on_open(schemas: list[str]) -> None:
    """A schema made before leases and the cache existed gains both and keeps its runs."""
    schema = fresh_schema(schemas)
    ident = sql.Identifier(schema)
    events: list[Event] = [RunStarted(run_id="old", seq=1, ts=1.0, flow="f")]
    events += [
        StepStarted(run_id="old", seq=seq, ts=1.0, step="s", invocation=seq) for seq in (2, 3, 4, 5)
    ]
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.schema_version (version INTEGER PRIMARY KEY,"
                " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            ).format(ident)
        )
        for statement in MIGRATIONS[0]:
            conn.execute(sql.SQL(statement).format(s=ident))
        conn.execute(sql.SQL("INSERT INTO {}.schema_version (version) VALUES (1)").format(ident))
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.runs (run_id, flow, status, created_at, updated_at, inputs)"
                " VALUES ('old', 'f', 'waiting', 1.0, 2.0, '{{}}')"
            ).format(ident)
        )
        for event in events[:3]:  # a row per event, as then
            conn.execute(
                sql.SQL("INSERT INTO {}.events VALUES ('old', %s, %s, 1.0, %s)").format(ident),
                (event.seq, type(event).__name__, dumps_event(event)),
            )

    async def main() -> None:
        store = await PostgresStore.connect(URL, schema=schema)
        try:
            got = await store.get_run("old")
            assert got is not None and got.status == "waiting"
            assert await store.read("old") == events[:3]
            await store.append("old", events[3:])  # one row after the old ones
            assert await store.read("old") == events
            assert await store.read("old", after=2) == events[2:]
            assert await store.read("old", after=4) == events[4:]
            assert (got.owner, got.lease_until) == ("", 0.0)
            assert await store.acquire("old", "me", 30.0) is True
            await store.cache_put("k", (1, b"x"))
            entry = await store.cache_get("k")
            assert entry is not None and entry.value == (1, b"x")
        finally:
            await store.close()

    asyncio.run(main())
    with psycopg.connect(URL) as conn:
        cur = conn.execute(sql.SQL("SELECT max(version) FROM {}.schema_version").format(ident))
        assert cur.fetchone() == (SCHEMA_VERSION,)


def test_a_corrupted_run_is_that_runs_problem_and_hides_no_other(schemas: list[str]) -> None:
    schema = fresh_schema(schemas)

    async def main() -> None:
        store = await PostgresStore.connect(URL, schema=schema)
        try:
            for n, run_id in enumerate(("good", "badjson", "badevent")):
                await store.create_run(
                    RunRecord(run_id=run_id, flow="f", created_at=1.0 + n, updated_at=1.0 + n)
                )
                await store.append(
                    run_id,
                    [
                        RunStarted(run_id=run_id, seq=1, ts=1.0, flow="f"),
                        StateChanged(run_id=run_id, seq=2, ts=2.0, step="s", changes={"a": 1}),
                    ],
                )
            with psycopg.connect(URL, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("UPDATE {}.runs SET inputs_text = 'not json' WHERE run_id = %s").format(
                        sql.Identifier(schema)
                    ),
                    ("badjson",),
                )
                # the append is one row from #1: its second event
                body = '[{"v": 2, "type": "RunStarted", "run_id": "badevent", "seq": 1, '
                body += '"ts": 1.0, "flow": "f"}, '
                body += '{"v": 2, "type": "StateChanged", "run_id": "badevent", "seq": 2, '
                body += '"ts": 2.0, "step": "s", "changes": [1, 2]}]'
                conn.execute(
                    sql.SQL("UPDATE {}.events SET body = %s WHERE run_id = %s AND seq = 1").format(
                        sql.Identifier(schema)
                    ),
                    (body, "badevent"),
                )
            listed = {r.run_id: r for r in await store.list_runs()}
            assert set(listed) == {"good", "badjson", "badevent"}
            assert listed["good"].status == "running"
            assert listed["badjson"].status == "corrupt"
            assert "inputs" in listed["badjson"].error
            with pytest.raises(StoreError, match="run badjson"):
                await store.get_run("badjson")
            with pytest.raises(StoreError, match=r"run badevent, event #2") as info:
                await store.read("badevent")
            assert "changes" in str(info.value)
            assert len(await store.read("good")) == 2
        finally:
            await store.close()

    asyncio.run(main())
