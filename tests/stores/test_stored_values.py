"""Values in real runs on every store: rows written by plait before value format 2 still
read, a big input is stored once, user data that looks like a tag (also as an answer to
``ask``) comes back unchanged, a flow that returns agent results runs durably, and a
value no store can hold fails the run naming the step and field — in memory too."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plait import Flow, StoreError, Workflow, listen, start
from plait.agents import TaskOutput
from plait.llm import Usage
from plait.runtime import RunStarted, StepCompleted
from plait.stores import MemoryStore, SqliteStore
from plait.stores._sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS
from plait.testing._conformance_values import UNSTORABLE
from tests.engine.conftest import fresh_store_url

V1_INPUTS = '{"pair": {"$tuple": [1, 2]}, "user": {"$bytes": "abc"}}'
V1_EVENT = json.dumps(
    {
        "v": 1,
        "type": "StepCompleted",
        "run_id": "old",
        "seq": 2,
        "ts": 2.0,
        "step": "s",
        "invocation": 1,
        "output": {"raw": {"$bytes": "AP8="}, "user": {"$bytes": "abc"}, "$k": 1},
        "duration": 0.1,
    }
)
V1_STARTED = '{"v": 1, "type": "RunStarted", "run_id": "old", "seq": 1, "ts": 1.0, "flow": "f"}'
V1_CACHE = '{"output": {"$tuple": ["a"]}, "changes": {}, "removed": []}'


def _check_old_rows(got: Any, events: list[Any], cached: Any) -> None:
    assert got is not None and got.inputs == {"pair": (1, 2), "user": {"$bytes": "abc"}}
    assert [type(e).__name__ for e in events] == ["RunStarted", "StepCompleted"]
    assert events[1].output == {"raw": b"\x00\xff", "user": {"$bytes": "abc"}, "$k": 1}
    assert cached is not None and cached.value["output"] == ("a",)


def test_sqlite_rows_of_format_1_still_read(tmp_path: Path) -> None:
    """A file written by plait before format 2 (schema 2): its runs, events and cache
    read as they did; new runs in it use format 2."""
    path = tmp_path / "runs.db"
    with sqlite3.connect(path) as conn:
        for migration in SQLITE_MIGRATIONS[:2]:
            for statement in migration:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO runs VALUES ('old', 'f', 'failed', 1.0, 2.0, ?, NULL, '', '', 0)",
            (V1_INPUTS,),
        )
        conn.execute("INSERT INTO events VALUES ('old', 1, 'RunStarted', 1.0, ?)", (V1_STARTED,))
        conn.execute("INSERT INTO events VALUES ('old', 2, 'StepCompleted', 2.0, ?)", (V1_EVENT,))
        conn.execute("INSERT INTO cache VALUES ('k', ?, 1.0, NULL)", (V1_CACHE,))
        conn.execute("PRAGMA user_version = 2")
    conn.close()

    async def main() -> None:
        store = SqliteStore(path)
        try:
            got, events = await store.get_run("old"), await store.read("old")
            _check_old_rows(got, events, await store.cache_get("k"))
        finally:
            await store.close()

    asyncio.run(main())


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_store_url(request.param, tmp_path)


def test_postgres_rows_of_format_1_still_read(tmp_path: Path) -> None:
    if os.environ.get("PLAIT_TEST_NO_POSTGRES"):
        pytest.skip("PostgreSQL is not installed here")
    import psycopg
    from psycopg import sql

    from plait.stores._postgres import PostgresStore
    from plait.stores._postgres_schema import MIGRATIONS

    made = fresh_store_url("postgres", tmp_path)
    url = next(made)
    try:
        schema = url.rpartition("schema=")[2]
        ident = sql.Identifier(schema)
        base = url.partition("?")[0]
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {}.schema_version (version INTEGER PRIMARY KEY,"
                    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                ).format(ident)
            )
            for migration in MIGRATIONS[:2]:
                for statement in migration:
                    conn.execute(sql.SQL(statement).format(s=ident))
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_version (version) VALUES (1), (2)").format(ident)
            )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {}.runs (run_id, flow, status, created_at, updated_at, inputs)"
                    " VALUES ('old', 'f', 'failed', 1.0, 2.0, %s::jsonb)"
                ).format(ident),
                (V1_INPUTS,),
            )
            for seq, body in ((1, V1_STARTED), (2, V1_EVENT)):
                conn.execute(
                    sql.SQL("INSERT INTO {}.events VALUES ('old', %s, 't', 1.0, %s)").format(ident),
                    (seq, body),
                )
            conn.execute(
                sql.SQL("INSERT INTO {}.cache VALUES ('k', %s, 1.0, NULL)").format(ident),
                (V1_CACHE,),
            )

        async def main() -> None:
            store = await PostgresStore.connect(base, schema=schema)
            try:
                got, events = await store.get_run("old"), await store.read("old")
                _check_old_rows(got, events, await store.cache_get("k"))
            finally:
                await store.close()

        asyncio.run(main())
    finally:
        next(made, None)  # drops the schema


def test_redis_rows_of_format_1_still_read(tmp_path: Path) -> None:
    if os.environ.get("PLAIT_TEST_NO_REDIS"):
        pytest.skip("Redis is not installed here")
    import redis

    from plait.stores._redis import RedisStore

    prefix = f"plait-test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis(host="127.0.0.1", port=6379, decode_responses=True)
    try:
        client.hset(
            f"{prefix}:run:old",
            mapping={
                "run_id": "old",
                "flow": "f",
                "status": "failed",
                "created_at": "1.0",
                "updated_at": "2.0",
                "inputs": V1_INPUTS,
                "plan": "",
                "error": "",
                "owner": "",
                "lease_until": "0.0",
            },
        )
        client.zadd(f"{prefix}:runs", {"old": 1.0})
        client.xadd(f"{prefix}:events:old", {"e": V1_STARTED}, id="1-0")
        client.xadd(f"{prefix}:events:old", {"e": V1_EVENT}, id="2-0")
        entry = {"value": json.loads(V1_CACHE), "created_at": 1.0, "expires_at": None}
        client.set(f"{prefix}:cache:k", json.dumps(entry))

        async def main() -> None:
            store = RedisStore("redis://127.0.0.1:6379/0", prefix=prefix)
            try:
                got, events = await store.get_run("old"), await store.read("old")
                _check_old_rows(got, events, await store.cache_get("k"))
            finally:
                await store.close()

        asyncio.run(main())
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


class Blob(Flow):
    @start()
    def size(self) -> int:
        return len(self.state["blob"])


def test_a_big_input_is_stored_once(tmp_path: Path) -> None:
    """Not in the run's record, again in RunStarted's inputs, again in its state, and
    again each time the run's row is updated (SQLite rewrites whole rows)."""
    blob = "x" * 5_000_000
    path = tmp_path / "runs.db"
    flow = Blob()
    assert flow.kickoff({"blob": blob}, store=f"sqlite:///{path}") == len(blob)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        started = conn.execute("SELECT body FROM events WHERE seq = 1").fetchone()[0]
    conn.close()
    assert len(started) < 1000
    assert path.stat().st_size < 1.2 * len(blob)

    async def main() -> None:
        store = SqliteStore(path)
        try:
            first = (await store.read(flow.run_id))[0]
            assert isinstance(first, RunStarted)
            assert first.inputs == {"blob": blob} and first.state["blob"] == blob
            record = await store.get_run(flow.run_id)
            assert record is not None and record.inputs == {"blob": blob}
        finally:
            await store.close()

    asyncio.run(main())


class Answering(Flow):
    @start()
    async def ask_it(self) -> Any:
        return await self.ask("Anything?")

    @listen(ask_it)
    def keep(self, answer: Any) -> Any:
        return answer


def test_an_answer_that_looks_like_a_tag_comes_back_unchanged(url: str) -> None:
    """Also through ``respond``: an answer can neither become another type nor make
    plait import the module it names."""
    from plait import WaitingForInput

    imported = "this" in sys.modules
    answer = {"$model": "this:x", "data": {"$bytes": "abc"}, "$tuple": [1]}
    with pytest.raises(WaitingForInput) as info:
        Answering().kickoff(store=url)
    assert Answering().respond(info.value.run_id, answer, store=url) == answer
    assert imported or "this" not in sys.modules


def _sales() -> Workflow:
    wf = Workflow("sales")

    @wf.task()
    def users() -> dict[int, str]:
        return {1: "ada", 2: "grace"}

    @wf.task(depends_on=[users])
    def when(users: dict[int, str]) -> dict[str, Any]:
        import datetime as dt
        from decimal import Decimal

        return {"at": dt.date(2024, 1, 2), "total": Decimal("9.50"), "ids": set(users)}

    return wf


def test_values_json_has_no_type_for_run_on_a_durable_store(url: str) -> None:
    import datetime as dt
    from decimal import Decimal

    events: list[Any] = []
    out = _sales().run(store=url, listeners=[events.append])
    assert out == {"at": dt.date(2024, 1, 2), "total": Decimal("9.50"), "ids": {1, 2}}


class Unstorable(Flow):
    @start()
    def fetch(self) -> Any:
        return {name: make for name, make, _ in UNSTORABLE}[self.state["case"]]()

    @listen(fetch)
    def after(self, value: Any) -> str:
        return "never"


@pytest.fixture(params=["default", "memory", "sqlite", "postgres", "redis"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "default":  # no store=: the run's own new MemoryStore
        yield None
    elif request.param == "memory":
        yield MemoryStore()
    else:
        yield from fresh_store_url(request.param, tmp_path)


@pytest.mark.parametrize(("name", "make", "path"), UNSTORABLE, ids=[u[0] for u in UNSTORABLE])
def test_a_step_whose_output_cannot_be_stored_fails_naming_step_and_field(
    any_store: Any, name: str, make: Any, path: str
) -> None:
    """The same in memory as on a durable store: a StoreError that names the step and
    the field, and nothing that depends on the step starts."""
    flow = Unstorable()
    with pytest.raises(StoreError) as info:
        flow.kickoff({"case": name}, store=any_store)
    message = str(info.value)
    assert "step 'fetch'" in message and f"output{path}" in message, message
    assert "cannot be stored" in message
    assert not any(isinstance(e, StepCompleted) and e.step == "after" for e in flow.events)


def test_agent_results_run_durably_and_read_back_in_a_fresh_process(tmp_path: Path) -> None:
    """A flow whose steps return TaskOutput objects (as the guide's content flow does)
    runs on a durable store; another process reads them back as TaskOutput without
    having imported plait.agents."""

    class Writing(Flow):
        @start()
        def research(self) -> TaskOutput:
            usage = Usage(input_tokens=5, output_tokens=7)
            return TaskOutput(
                description="research", agent="r", raw="facts", output="facts", usage=usage
            )

        @listen(research)
        def write(self, research: TaskOutput) -> TaskOutput:
            assert isinstance(research, TaskOutput)
            return TaskOutput(
                description="write",
                agent="w",
                raw=research.raw + "!",
                output=research.usage,
                tool_calls=["word_count"],
            )

    path = tmp_path / "runs.db"
    flow = Writing()
    out = flow.kickoff(store=f"sqlite:///{path}")
    assert isinstance(out, TaskOutput) and out.raw == "facts!"
    code = textwrap.dedent(
        f"""
        import asyncio, sys
        from plait.stores import SqliteStore

        async def main():
            store = SqliteStore({str(path)!r})
            events = await store.read({flow.run_id!r})
            await store.close()
            out = [e.output for e in events if type(e).__name__ == "StepCompleted"]
            print(type(out[0]).__name__, type(out[1]).__name__, type(out[1].output).__name__,
                  out[1].raw)

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["TaskOutput", "TaskOutput", "Usage", "facts!"]
    assert "plain data" not in done.stderr
