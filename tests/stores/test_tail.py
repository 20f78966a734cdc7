"""Following a run live: across processes (SQLite, PostgreSQL), by notification rather than
by the safety poll (PostgreSQL, Redis, memory), the polling back-off, and the fallback
for a store without ``tail``. The cases every store passes are in the conformance suite."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from plait.core import StoreError
from plait.runtime import Event, RunRecord, Store
from plait.stores import MemoryStore, SqliteStore, tail
from plait.stores import _tail as tail_module
from plait.testing._conformance_base import _events

PG_URL = os.environ.get("PLAIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/0"
BATCHES = (1, 4, 7, 10)
LIMIT_S = 60.0


def _record(run_id: str) -> RunRecord:
    return RunRecord(run_id=run_id, flow="flow", created_at=1.0, updated_at=1.0)


async def _open(kind: str, where: str) -> Store:
    if kind == "sqlite":
        return SqliteStore(where)
    from plait.stores import PostgresStore

    return await PostgresStore.connect(PG_URL, schema=where, max_size=2)


def _write(kind: str, where: str, run_id: str, acks: Connection) -> None:
    """The writer process: each batch, then wait until the follower has it; then end."""

    async def main() -> None:
        store = await _open(kind, where)
        try:
            for start in BATCHES:
                await store.append(run_id, _events(run_id, start, 3))
                if not acks.poll(LIMIT_S):
                    raise SystemExit(f"no ack for the batch from {start}")
                assert acks.recv() == start + 2
            await store.set_status(run_id, "completed")
        finally:
            await store.close()

    asyncio.run(main())


def _follow_another_process(kind: str, where: str) -> list[Event]:
    """Follow a run that a spawned process writes; return what the tail gave."""
    ours, theirs = multiprocessing.Pipe()
    context = multiprocessing.get_context("spawn")

    async def main() -> list[Event]:
        store = await _open(kind, where)
        try:
            await store.create_run(_record("r1"))
            writer = context.Process(target=_write, args=(kind, where, "r1", theirs))
            writer.start()
            got: list[Event] = []
            try:
                async with asyncio.timeout(LIMIT_S):
                    async for event in tail(store, "r1"):
                        got.append(event)
                        if event.seq in {start + 2 for start in BATCHES}:
                            ours.send(event.seq)  # the writer goes on only now
            finally:
                await asyncio.to_thread(writer.join, LIMIT_S)
            assert writer.exitcode == 0
            return got
        finally:
            await store.close()

    return asyncio.run(main())


def test_sqlite_tail_follows_a_writer_in_another_process(tmp_path: Path) -> None:
    got = _follow_another_process("sqlite", str(tmp_path / "runs.db"))
    assert got == _events("r1", 1, 12)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    if os.environ.get("PLAIT_TEST_NO_POSTGRES") == "1":
        pytest.skip("PostgreSQL is not installed here")
    import psycopg
    from psycopg import sql

    name = f"plait_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def no_safety_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Notified tails look again only when notified (well, every 10 minutes)."""
    from plait.stores import _memory, _postgres_tail, _redis_tail

    for module in (_memory, _postgres_tail, _redis_tail):
        monkeypatch.setattr(module, "SAFETY_POLL_S", 600.0)


@pytest.mark.postgres
def test_postgres_tail_is_notified_by_a_writer_in_another_process(
    pg_schema: str, no_safety_poll: None
) -> None:
    got = _follow_another_process("postgres", pg_schema)
    assert got == _events("r1", 1, 12)


async def _step_by_step(store: Store, writer: Store) -> list[Event]:
    await store.create_run(_record("r1"))
    got: list[Event] = []
    have = {seq: asyncio.Event() for seq in range(1, 13)}

    async def follow() -> None:
        async for event in tail(store, "r1"):
            got.append(event)
            have[event.seq].set()

    reader = asyncio.create_task(follow())
    async with asyncio.timeout(LIMIT_S):
        for start in BATCHES:
            await writer.append("r1", _events("r1", start, 3))
            await have[start + 2].wait()
        await writer.set_status("r1", "completed")
        await reader
    return got


def test_memory_tail_is_woken_not_polled(no_safety_poll: None) -> None:
    async def main() -> list[Event]:
        store = MemoryStore()
        return await _step_by_step(store, store)

    assert asyncio.run(main()) == _events("r1", 1, 12)


@pytest.mark.postgres
def test_postgres_tail_is_notified_not_polled(pg_schema: str, no_safety_poll: None) -> None:
    async def main() -> list[Event]:
        store, writer = await _open("postgres", pg_schema), await _open("postgres", pg_schema)
        try:
            return await _step_by_step(store, writer)
        finally:
            await writer.close()
            await store.close()

    assert asyncio.run(main()) == _events("r1", 1, 12)


@pytest.mark.redis
def test_redis_tail_is_notified_not_polled(no_safety_poll: None) -> None:
    if os.environ.get("PLAIT_TEST_NO_REDIS") == "1":
        pytest.skip("Redis is not installed here")
    from plait.stores import RedisStore

    prefix = f"plait-test-{uuid.uuid4().hex}"

    async def main() -> list[Event]:
        store, writer = RedisStore(REDIS_URL, prefix=prefix), RedisStore(REDIS_URL, prefix=prefix)
        try:
            got = await _step_by_step(store, writer)
            await store.delete_run("r1")
            return got
        finally:
            await writer.close()
            await store.close()

    assert asyncio.run(main()) == _events("r1", 1, 12)


class _Scripted:
    """A store whose log grows by a script, one step per look; ``waits``: the pauses."""

    def __init__(self, script: list[tuple[str, int]]) -> None:
        self.script = script  # (status, how many events are stored) per look
        self.look = -1
        self.waits: list[float] = []

    async def get_run(self, run_id: str) -> RunRecord | None:
        self.look += 1
        status, _ = self.script[min(self.look, len(self.script) - 1)]
        return RunRecord(run_id=run_id, flow="flow", status=status)

    async def read(self, run_id: str, *, after: int = 0) -> list[Event]:
        _, count = self.script[min(self.look, len(self.script) - 1)]
        return [e for e in _events(run_id, 1, count) if e.seq > after] if count else []

    async def wait(self, timeout: float) -> None:
        self.waits.append(timeout)


def test_polling_backs_off_while_nothing_comes_and_resets_on_events() -> None:
    idle = [("running", 1)] * 8
    store = _Scripted([("running", 1), *idle, ("running", 3), *idle[:2], ("completed", 4)])

    async def main() -> list[int]:
        follow = tail_module.follow(store, "r1", 0, wait=store.wait)  # type: ignore[arg-type]
        return [e.seq async for e in follow]

    assert asyncio.run(main()) == [1, 2, 3, 4]
    first, most = tail_module.POLL_FIRST_S, tail_module.POLL_MOST_S
    backing = [first, *(min(first * 2**n, most) for n in range(1, 9))]
    assert store.waits[:9] == backing  # 5 ms, 10, 20, ... up to 200 ms
    assert store.waits[8] == most
    assert store.waits[9:12] == [first, first * 2, first * 4]  # events came: 5 ms again


def test_a_store_without_tail_is_followed_by_polling() -> None:
    class Bare:
        """Only what polling needs: no ``tail`` of its own."""

        def __init__(self, inner: MemoryStore) -> None:
            self.inner = inner

        async def get_run(self, run_id: str) -> Any:
            return await self.inner.get_run(run_id)

        async def read(self, run_id: str, *, after: int = 0) -> list[Event]:
            return await self.inner.read(run_id, after=after)

    async def main() -> list[Event]:
        inner = MemoryStore()
        await inner.create_run(_record("r1"))
        await inner.append("r1", _events("r1", 1, 4))
        await inner.set_status("r1", "cancelled")
        return [e async for e in tail(Bare(inner), "r1", 1)]  # type: ignore[arg-type]

    assert [e.seq for e in asyncio.run(main())] == [2, 3, 4]


@pytest.mark.parametrize("after", [-1, True, 1.5, "2"])
def test_after_seq_must_be_an_event_number(after: Any) -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.create_run(_record("r1"))
        async for _ in tail(store, "r1", after):
            pass

    with pytest.raises(ValueError, match="after_seq"):
        asyncio.run(main())


def test_a_run_deleted_while_followed_ends_the_tail_with_a_store_error() -> None:
    async def main() -> None:
        store = MemoryStore()
        await store.create_run(_record("r1"))
        await store.append("r1", _events("r1", 1, 2))
        got = asyncio.Event()

        async def follow() -> None:
            async for event in tail(store, "r1"):
                if event.seq == 2:
                    got.set()

        reader = asyncio.create_task(follow())
        async with asyncio.timeout(LIMIT_S):
            await got.wait()
            await store.delete_run("r1")
            await reader

    with pytest.raises(StoreError, match="r1"):
        asyncio.run(main())


def _named(app: str) -> str:
    """``PG_URL`` with an ``application_name`` that marks the store's connections."""
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}application_name={app}"


async def _backends(admin: Any, app: str) -> tuple[int, list[int]]:
    """How many server connections named ``app`` there are, and the pids of those whose
    last statement was a LISTEN."""
    cur = await admin.execute(
        "SELECT pid, query FROM pg_stat_activity WHERE application_name = %s", (app,)
    )
    rows = await cur.fetchall()
    return len(rows), sorted(pid for pid, query in rows if query.startswith("LISTEN"))


async def _followers(admin: Any, schema: str) -> list[tuple[str, int]]:
    from psycopg import sql

    query = sql.SQL("SELECT run_id, pid FROM {}.followers ORDER BY run_id, pid")
    cur = await admin.execute(query.format(sql.Identifier(schema)))
    return [(run_id, pid) for run_id, pid in await cur.fetchall()]


@pytest.mark.postgres
def test_postgres_tails_share_one_listening_connection(
    pg_schema: str, no_safety_poll: None
) -> None:
    """20 tails (2 on each of 10 runs) take one connection besides the pool; each run has
    one followers row; every tail gets all its run's events, by notification."""
    import psycopg

    from plait.stores import PostgresStore

    app = f"plait_tails_{uuid.uuid4().hex[:8]}"
    runs = [f"r{i}" for i in range(10)]

    async def main() -> None:
        store = await PostgresStore.connect(_named(app), schema=pg_schema, max_size=2)
        writer = await PostgresStore.connect(PG_URL, schema=pg_schema, max_size=2)
        admin = await psycopg.AsyncConnection.connect(PG_URL, autocommit=True)
        try:
            for run in runs:
                await store.create_run(_record(run))
                await writer.append(run, _events(run, 1, 1))
            started = {(run, n): asyncio.Event() for run in runs for n in range(2)}

            async def follow(run: str, n: int) -> list[Event]:
                got = []
                async for event in store.tail(run):
                    got.append(event)
                    started[run, n].set()
                return got

            tails = [asyncio.create_task(follow(run, n)) for run, n in started]
            async with asyncio.timeout(LIMIT_S):
                for seen in started.values():
                    await seen.wait()
                count, listening = await _backends(admin, app)
                assert len(listening) == 1  # one LISTEN connection for the 20 tails
                assert count <= 2 + 1  # the pool (max_size=2) and that one
                assert await _followers(admin, pg_schema) == [(r, listening[0]) for r in runs]
                for run in runs:
                    await writer.append(run, _events(run, 2, 3))
                    await writer.set_status(run, "completed")
                got = await asyncio.gather(*tails)
            for (run, _), events in zip(started, got, strict=True):
                assert events == _events(run, 1, 4)
            assert await _followers(admin, pg_schema) == []  # the last tail removed its row
        finally:
            await admin.close()
            await writer.close()
            await store.close()

    asyncio.run(main())


@pytest.mark.postgres
def test_ending_one_tail_of_a_run_keeps_the_other_notified(
    pg_schema: str, no_safety_poll: None
) -> None:
    import psycopg

    async def main() -> list[Event]:
        store, writer = await _open("postgres", pg_schema), await _open("postgres", pg_schema)
        admin = await psycopg.AsyncConnection.connect(PG_URL, autocommit=True)
        try:
            await store.create_run(_record("r1"))
            got: list[Event] = []
            have = {seq: asyncio.Event() for seq in range(1, 4)}
            first = asyncio.Event()

            async def stopped_early() -> None:
                async for _ in tail(store, "r1"):
                    first.set()

            async def follow() -> None:
                async for event in tail(store, "r1"):
                    got.append(event)
                    have[event.seq].set()

            early, reader = asyncio.create_task(stopped_early()), asyncio.create_task(follow())
            async with asyncio.timeout(LIMIT_S):
                await writer.append("r1", _events("r1", 1, 1))
                await first.wait()
                await have[1].wait()
                early.cancel()
                await asyncio.wait([early])
                assert [run for run, _ in await _followers(admin, pg_schema)] == ["r1"]
                await writer.append("r1", _events("r1", 2, 2))
                await have[3].wait()  # notified, though the other tail ended
                await writer.set_status("r1", "completed")
                await reader
            assert await _followers(admin, pg_schema) == []
            return got
        finally:
            await admin.close()
            await writer.close()
            await store.close()

    assert asyncio.run(main()) == _events("r1", 1, 3)


@pytest.mark.postgres
def test_postgres_tail_survives_losing_its_listening_connection(
    pg_schema: str, no_safety_poll: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The server ends the LISTEN connection: the tail goes on, the listener reconnects
    and follows the run again under its new pid, and the log says both."""
    import psycopg

    from plait.stores import PostgresStore

    app = f"plait_tails_{uuid.uuid4().hex[:8]}"

    async def main() -> list[Event]:
        store = await PostgresStore.connect(_named(app), schema=pg_schema, max_size=2)
        writer = await _open("postgres", pg_schema)
        admin = await psycopg.AsyncConnection.connect(PG_URL, autocommit=True)
        try:
            await store.create_run(_record("r1"))
            got: list[Event] = []
            have = {seq: asyncio.Event() for seq in range(1, 6)}

            async def follow() -> None:
                async for event in tail(store, "r1"):
                    got.append(event)
                    have[event.seq].set()

            reader = asyncio.create_task(follow())
            async with asyncio.timeout(LIMIT_S):
                await writer.append("r1", _events("r1", 1, 1))
                await have[1].wait()
                _, (old,) = await _backends(admin, app)
                await admin.execute("SELECT pg_terminate_backend(%s)", (old,))
                await writer.append("r1", _events("r1", 2, 2))
                await have[3].wait()  # woken when the connection went, or when it came back
                while True:  # until the run is followed again, by the new connection
                    rows = await _followers(admin, pg_schema)
                    _, listening = await _backends(admin, app)
                    if len(listening) == 1 and rows == [("r1", listening[0])] != [("r1", old)]:
                        break
                    await asyncio.sleep(0.02)
                await writer.append("r1", _events("r1", 4, 2))
                await have[5].wait()  # notified on the new connection
                await writer.set_status("r1", "completed")
                await reader
            return got
        finally:
            await admin.close()
            await writer.close()
            await store.close()

    with caplog.at_level("WARNING", logger="plait"):
        assert asyncio.run(main()) == _events("r1", 1, 5)
    said = [r.getMessage() for r in caplog.records]
    assert any("lost the connection that hears of new events" in m for m in said), said
    assert any("is back" in m for m in said), said
