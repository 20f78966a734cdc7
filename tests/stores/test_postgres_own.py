"""PostgresStore's own connection (plait.stores._postgres_own): calls use it when it is
free and the pool beside it, never more than ``max_size`` connections in all, and a
connection the server cut, or a call cut off mid-command, costs at most that call."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest

if os.environ.get("PLAIT_TEST_NO_POSTGRES") == "1":
    pytest.skip("PostgreSQL is not installed here", allow_module_level=True)

import psycopg
from psycopg import sql

from plait.core import StoreError
from plait.runtime import RunRecord, RunStarted
from plait.stores import _postgres_own
from plait.stores._postgres import PostgresStore

pytestmark = pytest.mark.postgres

URL = os.environ.get("PLAIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"plait_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _app() -> str:
    return f"plait_own_{uuid.uuid4().hex[:8]}"


def _named(app: str) -> str:
    return f"{URL}?application_name={app}"


def _record(run_id: str) -> RunRecord:
    return RunRecord(run_id=run_id, flow="f", created_at=1.0, updated_at=1.0)


async def _backends(app: str) -> list[int]:
    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as admin:
        cur = await admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,)
        )
        return [row[0] for row in await cur.fetchall()]


async def _cut(app: str) -> int:
    """Have the server terminate every connection of ``app``; how many there were."""
    async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as admin:
        cur = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (app,),
        )
        return len(await cur.fetchall())


def test_calls_at_once_share_max_size_connections(schema: str) -> None:
    app = _app()

    async def main() -> None:
        store = await PostgresStore.connect(_named(app), schema=schema, max_size=3)
        try:
            runs = [f"r{i}" for i in range(30)]
            await asyncio.gather(*(store.create_run(_record(r)) for r in runs))
            started = {r: [RunStarted(run_id=r, seq=1, ts=1.0, flow="f")] for r in runs}
            await asyncio.gather(*(store.append(r, started[r]) for r in runs))
            assert [await store.read(r) for r in runs] == [started[r] for r in runs]
            assert 1 <= len(await _backends(app)) <= 3
        finally:
            await store.close()
        for _ in range(50):  # a backend ends a moment after its client leaves
            if not await _backends(app):
                break
            await asyncio.sleep(0.1)
        assert await _backends(app) == []

    asyncio.run(main())


def test_a_connection_the_server_cut_fails_one_call_and_the_next_ones_work(
    schema: str,
) -> None:
    app = _app()

    async def main() -> None:
        store = await PostgresStore.connect(_named(app), schema=schema, max_size=2)
        try:
            await store.create_run(_record("r1"))
            assert await _cut(app) == 1  # min_size 1: the store's own connection only
            with pytest.raises(StoreError, match="reading run r1 failed"):
                await store.get_run("r1")
            found = await store.get_run("r1")  # the own one is gone: the pool's
            assert found is not None and found.run_id == "r1"
            await store.append("r1", [RunStarted(run_id="r1", seq=1, ts=1.0, flow="f")])
            assert len(await store.read("r1")) == 1
        finally:
            await store.close()

    asyncio.run(main())


def test_an_idle_connection_is_checked_before_it_is_trusted(
    schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut while idle: the next call finds out by the check, not by failing."""
    app = _app()
    monkeypatch.setattr(_postgres_own, "IDLE_S", 0.0)

    async def main() -> None:
        store = await PostgresStore.connect(_named(app), schema=schema, max_size=2, min_size=1)
        try:
            await store.create_run(_record("r1"))
            async with store._connection("finding the own connection") as conn:
                own_pid = conn.info.backend_pid
            async with await psycopg.AsyncConnection.connect(URL, autocommit=True) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s)", (own_pid,))
            await asyncio.sleep(0.1)
            found = await store.get_run("r1")  # no error: checked, given up, the pool's
            assert found is not None
            assert own_pid not in await _backends(app)
        finally:
            await store.close()

    asyncio.run(main())


def test_a_call_cancelled_mid_command_leaves_the_store_usable(schema: str) -> None:
    app = _app()

    async def main() -> None:
        store = await PostgresStore.connect(_named(app), schema=schema, max_size=2)
        try:
            await store.create_run(_record("r1"))

            async def slow() -> None:
                async with store._connection("sleeping") as conn:
                    await conn.execute("SELECT pg_sleep(30)")

            task = asyncio.create_task(slow())
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with asyncio.timeout(10):  # not after the 30 s sleep
                found = await store.get_run("r1")
                await store.append("r1", [RunStarted(run_id="r1", seq=1, ts=1.0, flow="f")])
            assert found is not None and len(await store.read("r1")) == 1
        finally:
            await store.close()

    asyncio.run(main())


def test_sizes_that_make_no_pool_are_refused() -> None:
    for low, high in [(3, 2), (-1, 2), (0, 0)]:
        with pytest.raises(StoreError, match="is not a pool size"):
            PostgresStore(URL, min_size=low, max_size=high)


def test_the_store_keeps_its_full_size_after_its_own_connection_is_given_up(
    schema: str,
) -> None:
    """The server cuts every connection; once the own one is given up the pool may grow
    back to max_size, so a call held up by a row lock does not hold up the others."""
    app = _app()

    async def main() -> None:
        store = await PostgresStore.connect(_named(app), schema=schema, max_size=2, min_size=2)
        locker = await psycopg.AsyncConnection.connect(URL)
        try:
            for run in ("r1", "r2"):
                await store.create_run(_record(run))
            await _cut(app)
            for _ in range(3):  # the calls that meet the dead connections fail
                with contextlib.suppress(StoreError):
                    await store.get_run("r1")
            await locker.execute(
                sql.SQL("SELECT 1 FROM {}.runs WHERE run_id = 'r1' FOR UPDATE").format(
                    sql.Identifier(schema)
                )
            )
            held = asyncio.create_task(store.set_status("r1", "completed"))  # waits
            await asyncio.sleep(0.3)
            async with asyncio.timeout(5):
                found = await store.get_run("r2")
            assert found is not None and not held.done()
            await locker.rollback()
            await held
        finally:
            await locker.close()
            await store.close()

    asyncio.run(main())


def test_a_call_in_flight_when_the_store_closes_finishes(schema: str) -> None:
    """As with a pool's connection: closing waits for no call, but cuts none off."""
    app = _app()

    async def main() -> None:
        store = await PostgresStore.connect(_named(app), schema=schema, max_size=2)
        locker = await psycopg.AsyncConnection.connect(URL)
        try:
            await store.create_run(_record("r1"))
            await locker.execute(
                sql.SQL("SELECT 1 FROM {}.runs WHERE run_id = 'r1' FOR UPDATE").format(
                    sql.Identifier(schema)
                )
            )
            held = asyncio.create_task(store.set_status("r1", "completed"))
            await asyncio.sleep(0.3)
            await store.close()
            await locker.rollback()
            async with asyncio.timeout(5):
                await held  # no StoreError: it finished on its connection
        finally:
            await locker.close()
        for _ in range(50):
            if not await _backends(app):
                break
            await asyncio.sleep(0.1)
        assert await _backends(app) == []

    asyncio.run(main())
