"""SqliteStore passes the store conformance suite, and handles bad files and load."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

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
from plait.stores import SqliteStore
from plait.stores._sqlite_schema import FRESH, MIGRATIONS, SCHEMA_VERSION
from plait.testing import conformance


class SqliteFactory:
    durable = True

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="plait-sqlite-")) / "runs.db"

    async def new(self) -> Store:
        return SqliteStore(self.path)

    async def reopen(self) -> Store:
        return SqliteStore(self.path)


@pytest.mark.parametrize("case", conformance.CASES, ids=lambda c: c.__name__)
def test_sqlite_store_conforms(
    case: Callable[[conformance.StoreFactory], Awaitable[None]],
) -> None:
    asyncio.run(case(SqliteFactory()))


def _run(run_id: str) -> RunRecord:
    return RunRecord(run_id=run_id, flow="f", created_at=1.0, updated_at=1.0)


def _started(run_id: str) -> list[Event]:
    return [RunStarted(run_id=run_id, seq=1, ts=1.0, flow="f")]


def test_is_a_store_and_creates_parent_folders(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "a" / "b" / "runs.db")
        try:
            assert isinstance(store, Store)
            await store.create_run(_run("r1"))
        finally:
            await store.close()
        assert (tmp_path / "a" / "b" / "runs.db").is_file()

    asyncio.run(main())


def test_memory_path_is_refused() -> None:
    with pytest.raises(StoreError, match="MemoryStore"):
        SqliteStore(":memory:")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    asyncio.run(SqliteStore(path).close())
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="upgrade plait") as info:
        SqliteStore(path)
    assert str(path) in str(info.value)


def test_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    garbage = b"this is not a database, just some text\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        SqliteStore(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == garbage


def test_corrupted_event_body_fails_read_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    events: list[Event] = [
        RunStarted(run_id="r1", seq=1, ts=1.0, flow="f"),
        StepStarted(run_id="r1", seq=2, ts=2.0, step="s", invocation=1),
        StepStarted(run_id="r1", seq=3, ts=3.0, step="t", invocation=2),
    ]

    async def fill() -> None:
        store = SqliteStore(path)
        try:
            await store.create_run(_run("r1"))
            for event in events:  # a row each (an append is one row)
                await store.append("r1", [event])
        finally:
            await store.close()

    asyncio.run(fill())
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE events SET body = '{\"v\": 1, broken' WHERE seq = 2")

    async def check() -> None:
        store = SqliteStore(path)
        try:
            with pytest.raises(StoreError, match="r1") as info:
                await store.read("r1")
            assert "#2" in str(info.value)
            assert await store.read("r1", after=2) == events[2:]
            got = await store.get_run("r1")
            assert got is not None and got.status == "running"
        finally:
            await store.close()

    asyncio.run(check())
    with sqlite3.connect(path) as conn:
        count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        body = conn.execute("SELECT body FROM events WHERE seq = 2").fetchone()[0]
    assert count == 3 and body == '{"v": 1, broken'


def test_an_append_to_an_idle_store_commits_on_the_callers_thread(tmp_path: Path) -> None:
    """No thread hand-off when nothing else writes: each append commits right away, and
    append_now says so (what a durable step's completion takes)."""

    async def main() -> None:
        store = SqliteStore(tmp_path / "runs.db")
        try:
            await store.create_run(_run("r1"))
            events = [
                *_started("r1"),
                StepStarted(run_id="r1", seq=2, ts=2.0, step="a", invocation=1),
            ]
            assert store.append_now("r1", events[:1])
            assert store.commits == 1
            assert await store.read("r1") == events[:1]
            # another connection holds the write lock: append_now stores nothing and says
            # so; append waits for the lock on the store's thread
            other = sqlite3.connect(tmp_path / "runs.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            assert not store.append_now("r1", events[1:])
            pending = asyncio.ensure_future(store.append("r1", events[1:]))
            await asyncio.sleep(0.05)
            assert not pending.done()
            other.execute("COMMIT")
            other.close()
            await pending
            assert await store.read("r1") == events
        finally:
            await store.close()

    asyncio.run(main())


def test_a_runs_small_calls_wait_for_another_process_s_write_lock(tmp_path: Path) -> None:
    """A run's record, status and lease go through the caller's thread when the store is
    idle; with the write lock held elsewhere they wait on the store's thread (they never
    fail, nor write half), and go on once it is free."""

    async def main() -> None:
        store = SqliteStore(tmp_path / "runs.db")
        try:
            await store.create_run(_run("r1"))  # idle: right here
            other = sqlite3.connect(tmp_path / "runs.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            pending = [
                asyncio.ensure_future(store.create_run(_run("r2"))),
                asyncio.ensure_future(store.set_status("r1", "failed", error="x")),
                asyncio.ensure_future(store.acquire("r1", "me", 30.0)),
            ]
            await asyncio.sleep(0.1)
            assert not any(p.done() for p in pending)
            other.execute("COMMIT")
            other.close()
            await asyncio.gather(*pending)
            record = await store.get_run("r1")
            assert record is not None and (record.status, record.owner) == ("failed", "me")
            assert await store.get_run("r2") is not None
            with pytest.raises(StoreError, match="already exists"):  # idle again: here
                await store.create_run(_run("r2"))
        finally:
            await store.close()

    asyncio.run(main())


def test_appends_queued_during_a_commit_share_the_next_one(tmp_path: Path) -> None:
    """While the store's thread is busy, 200 appends queue up; they commit together."""

    async def main() -> None:
        store = SqliteStore(tmp_path / "runs.db")
        try:
            ids = [f"run{i}" for i in range(200)]
            for run_id in ids:
                await store.create_run(_run(run_id))
            entered, release = threading.Event(), threading.Event()

            def hold(conn: sqlite3.Connection) -> bool:
                entered.set()
                return release.wait(timeout=30)

            busy = asyncio.ensure_future(store._call(hold))
            await asyncio.to_thread(entered.wait, 30)  # the thread holds the connection
            before = store.commits
            appends = [asyncio.ensure_future(store.append(r, _started(r))) for r in ids]
            await asyncio.sleep(0)  # one turn of the loop: every append is queued
            release.set()
            assert await busy is True
            await asyncio.gather(*appends)
            assert store.commits - before == 1
        finally:
            await store.close()

    asyncio.run(main())


def test_refused_batch_does_not_spoil_the_group(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "runs.db")
        try:
            await store.create_run(_run("good"))
            await store.create_run(_run("bad"))
            await store.append("bad", _started("bad"))
            results = await asyncio.gather(
                store.append("good", _started("good")),
                store.append("bad", _started("bad")),  # seq 1 again: refused
                store.append("nope", _started("nope")),  # unknown run: refused
                return_exceptions=True,
            )
            assert results[0] is None
            assert isinstance(results[1], StoreError) and isinstance(results[2], StoreError)
            assert await store.read("good") == _started("good")
            assert await store.read("bad") == _started("bad")
        finally:
            await store.close()

    asyncio.run(main())


def test_append_does_not_block_the_event_loop(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "runs.db")
        try:
            await store.create_run(_run("r1"))
            events: list[Event] = [RunStarted(run_id="r1", seq=1, ts=1.0, flow="f")]
            events += [
                StepStarted(run_id="r1", seq=seq, ts=float(seq), step="s" * 200, invocation=seq)
                for seq in range(2, 20_001)
            ]
            append = asyncio.ensure_future(store.append("r1", events))
            ticks = 0
            while not append.done():
                ticks += 1
                await asyncio.sleep(0)
            await append
            assert ticks > 1  # the loop kept turning while the thread wrote
            assert len(await store.read("r1", after=19_990)) == 10
        finally:
            await store.close()

    asyncio.run(main())


def test_close_is_idempotent_and_later_calls_fail(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "runs.db")
        await store.create_run(_run("r1"))
        await store.close()
        await store.close()
        with pytest.raises(StoreError, match="closed"):
            await store.get_run("r1")
        with pytest.raises(StoreError, match="closed"):
            await store.append("r1", _started("r1"))

    asyncio.run(main())


def test_pending_work_finishes_before_close(tmp_path: Path) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "runs.db")
        await store.create_run(_run("r1"))
        append = asyncio.ensure_future(store.append("r1", _started("r1")))
        await asyncio.sleep(0)  # the append is queued
        await store.close()
        await append
        again = SqliteStore(tmp_path / "runs.db")
        try:
            assert await again.read("r1") == _started("r1")
        finally:
            await again.close()

    asyncio.run(main())


def _schema_of(conn: sqlite3.Connection) -> dict[str, Any]:
    """Every table's columns (name, type, not null, default, key position), whether it
    has rowids, and its indexes with their columns: what a schema does, not its text."""
    out: dict[str, Any] = {}
    tables = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall()
    for table, text in tables:
        columns = [
            (name, kind.upper(), notnull, default, pk)
            for _, name, kind, notnull, default, pk in conn.execute(f"PRAGMA table_info({table})")
        ]
        indexes = {
            name: (unique, origin, [c[2] for c in conn.execute(f"PRAGMA index_info({name})")])
            for _, name, unique, origin, _ in conn.execute(f"PRAGMA index_list({table})")
        }
        out[table] = (columns, "WITHOUT ROWID" in text.upper(), indexes)
    return out


def test_a_new_file_gets_the_schema_the_migrations_build(tmp_path: Path) -> None:
    """A new file is made with FRESH in one step; it must be the schema every migration,
    applied one by one, gives an older file."""
    stepwise = sqlite3.connect(tmp_path / "stepwise.db")
    for statements in MIGRATIONS:
        for statement in statements:
            stepwise.execute(statement)
    fresh = sqlite3.connect(tmp_path / "fresh.db")
    for statement in FRESH:
        fresh.execute(statement)
    want = _schema_of(stepwise)
    assert set(want) == {"runs", "events", "cache", "run_inputs"}
    assert _schema_of(fresh) == want
    stepwise.close()
    fresh.close()
    asyncio.run(SqliteStore(tmp_path / "opened.db").close())  # what opening a new file makes
    opened = sqlite3.connect(tmp_path / "opened.db")
    assert _schema_of(opened) == want
    assert opened.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    opened.close()


def test_schema_1_file_migrates_to_the_current_schema_on_open(tmp_path: Path) -> None:
    """A file written before leases and the cache existed opens, keeps its runs and
    events, and gains both."""
    path = tmp_path / "runs.db"
    event = RunStarted(run_id="old", seq=1, ts=1.0, flow="f")
    later = [
        StepStarted(run_id="old", seq=seq, ts=1.0, step="s", invocation=seq) for seq in (2, 3, 4, 5)
    ]
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO runs VALUES ('old', 'f', 'waiting', 1.0, 2.0, '{\"a\": 1}', NULL, '')"
        )
        for seq, e in enumerate((event, *later[:2]), 1):  # a row per event, as then
            conn.execute(
                "INSERT INTO events VALUES ('old', ?, ?, 1.0, ?)",
                (seq, type(e).__name__, dumps_event(e)),
            )
        conn.execute("PRAGMA user_version = 1")
    conn.close()

    async def main() -> None:
        store = SqliteStore(path)
        try:
            got = await store.get_run("old")
            assert got == RunRecord(
                run_id="old",
                flow="f",
                status="waiting",
                created_at=1.0,
                updated_at=2.0,
                inputs={"a": 1},
            )
            assert await store.read("old") == [event, *later[:2]]
            await store.append("old", later[2:])  # one row after the old ones
            assert await store.read("old") == [event, *later]
            assert await store.read("old", after=2) == later[1:]
            assert await store.read("old", after=4) == later[3:]
            assert await store.acquire("old", "me", 30.0) is True
            await store.cache_put("k", (1, b"x"))
            entry = await store.cache_get("k")
            assert entry is not None and entry.value == (1, b"x")
        finally:
            await store.close()

    asyncio.run(main())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        assert conn.execute("SELECT owner FROM runs").fetchone()[0] == "me"
        rows = conn.execute("SELECT seq, last, type FROM events ORDER BY seq").fetchall()
        assert rows == [
            (1, None, "RunStarted"),
            (2, None, "StepStarted"),
            (3, None, "StepStarted"),
            (4, 5, "batch"),
        ]
    conn.close()


def test_a_corrupted_run_is_that_runs_problem_and_hides_no_other(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "runs.db"

    async def fill() -> None:
        store = SqliteStore(path)
        try:
            for n, run_id in enumerate(("good", "badjson", "badtime", "badevent")):
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
        finally:
            await store.close()

    asyncio.run(fill())
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE run_inputs SET inputs = 'not json' WHERE run_id = 'badjson'")
        conn.execute("UPDATE runs SET created_at = 'yesterday' WHERE run_id = 'badtime'")
        conn.execute(
            # the append is one row from #1: its second event
            "UPDATE events SET body = json_set(body, '$[1].changes', json('[1, 2]')) "
            "WHERE run_id = 'badevent' AND seq = 1"
        )

    async def check() -> None:
        store = SqliteStore(path)
        try:
            with caplog.at_level("WARNING", logger="plait"):
                listed = {r.run_id: r for r in await store.list_runs()}
            assert set(listed) == {"good", "badjson", "badtime", "badevent"}
            assert listed["good"].status == "running"
            assert listed["badevent"].status == "running"
            for bad in ("badjson", "badtime"):
                assert listed[bad].status == "corrupt"
                assert "corrupted record" in listed[bad].error
                assert f"run {bad} is corrupted" in caplog.text
            assert "inputs" in listed["badjson"].error
            assert "created_at" in listed["badtime"].error
            for bad in ("badjson", "badtime"):
                with pytest.raises(StoreError, match=f"run {bad}"):
                    await store.get_run(bad)
            with pytest.raises(StoreError, match="run badevent, event #2") as info:
                await store.read("badevent")
            assert "changes" in str(info.value)
            assert len(await store.read("good")) == 2
        finally:
            await store.close()

    asyncio.run(check())
