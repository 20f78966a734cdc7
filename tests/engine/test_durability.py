"""Durability: a step's completion is stored before anything that depends on it starts
(``durability="sync"``, the default); ``"async"`` lets dependants start while it commits.
Map items and emits of a step run again are taken from the log, not repeated."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from plait import Flow, InputError, StoreError, listen, on_event, start
from plait.engine import open_store
from plait.runtime import Event, StepCompleted
from plait.stores import SqliteStore
from tests.engine.conftest import drop_postgres_schema


class Watched(SqliteStore):
    """A real SQLite store that notes which completions were committed, and can be told
    to fail on one step's completion or on the run's last status write."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.committed: list[str] = []
        self.fail_on: str | None = None
        self.fail_status = False

    def _check(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, StepCompleted) and event.step == self.fail_on:
                raise OSError("disk full")

    async def append(self, run_id: str, events: list[Event]) -> None:
        self._check(events)
        await super().append(run_id, events)
        self.committed += [e.step for e in events if isinstance(e, StepCompleted)]

    def append_now(self, run_id: str, events: list[Event]) -> bool:
        self._check(events)
        if not super().append_now(run_id, events):
            return False
        self.committed += [e.step for e in events if isinstance(e, StepCompleted)]
        return True

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None:
        if self.fail_status and status in {"completed", "failed"}:
            raise OSError("database is locked")
        await super().set_status(run_id, status, error=error)


class Chain(Flow):
    seen: dict[str, list[str]]

    def __init__(self, store: Watched) -> None:
        super().__init__()
        self.watched = store
        self.seen = {}

    @start()
    async def first(self) -> int:
        return 1

    @listen(first)
    async def second(self, x: int) -> int:
        self.seen["second"] = list(self.watched.committed)
        return x + 1

    @listen(second)
    async def third(self, x: int) -> int:
        self.seen["third"] = list(self.watched.committed)
        return x + 1


def _store(tmp_path: Path) -> Watched:
    return Watched(str(tmp_path / "runs.db"))


def test_sync_a_dependant_starts_only_once_its_input_is_stored(tmp_path: Path) -> None:
    store = _store(tmp_path)
    flow = Chain(store)
    assert flow.kickoff(store=store) == 3
    assert "first" in flow.seen["second"]
    assert {"first", "second"} <= set(flow.seen["third"])
    asyncio.run(store.close())


def test_async_lets_dependants_start_while_the_completion_commits(tmp_path: Path) -> None:
    store = _store(tmp_path)
    flow = Chain(store)
    assert flow.kickoff(store=store, durability="async") == 3
    # the opt-in overlap: the dependant ran before its input's commit finished
    assert "second" not in flow.seen["third"]
    asyncio.run(store.close())


def test_an_unknown_durability_mode_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(InputError, match=r"durability='fast'.*'sync', 'async'"):
        Chain(store).kickoff(store=store, durability="fast")
    asyncio.run(store.close())


def test_an_unstorable_completion_names_its_step_and_starts_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.fail_on = "first"
    flow = Chain(store)
    with pytest.raises(StoreError, match=r"step 'first' finished, but .* disk full"):
        flow.kickoff(store=store)
    assert flow.seen == {}  # neither dependant started
    asyncio.run(store.close())


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_a_failed_final_status_write_raises_instead_of_hanging(
    tmp_path: Path, durability: str
) -> None:
    store = _store(tmp_path)
    store.fail_status = True
    flow = Chain(store)

    async def go() -> Any:
        return await asyncio.wait_for(
            flow.kickoff_async(store=store, durability=durability), timeout=30
        )

    with pytest.raises(StoreError, match=r"could not store the end of run .*database is locked"):
        asyncio.run(go())
    # the lease is given back (no heartbeat keeps the run looking alive)
    record = asyncio.run(_record(store, flow.run_id))
    assert record.owner == ""
    asyncio.run(store.close())


async def _record(store: Watched, run_id: str) -> Any:
    return await store.get_run(run_id)


# -- map and emit of a step that runs again ---------------------------------------------


class TwoMaps(Flow):
    attempts = 0

    @start()
    async def both(self) -> tuple[list[int], list[int]]:
        async def square(x: int) -> int:
            return x * x

        async def cube_plus(x: int) -> int:
            return 1000 + x**3

        a = await self.map(square, range(5))
        b = await self.map(cube_plus, range(5))
        TwoMaps.attempts += 1
        if TwoMaps.attempts == 1:
            raise RuntimeError("flaky")
        return a, b


def test_two_maps_in_a_step_keep_their_own_items_on_resume(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    TwoMaps.attempts = 0
    flow = TwoMaps()
    with pytest.raises(RuntimeError, match="flaky"):
        flow.kickoff(store=url)
    a, b = TwoMaps().resume(flow.run_id, store=url)
    assert list(a) == [0, 1, 4, 9, 16]
    assert list(b) == [1000, 1001, 1008, 1027, 1064]


class Emitter(Flow):
    attempts = 0

    @start()
    async def produce(self) -> str:
        self.emit("tick", 5)
        Emitter.attempts += 1
        if Emitter.attempts == 1:
            raise RuntimeError("crashed after emitting")
        return "done"

    @listen(on_event("tick"))
    async def count(self, n: int) -> int:
        self.state["total"] = self.state.get("total", 0) + n
        return n


def test_an_emit_whose_listener_ran_is_not_repeated_on_resume(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    Emitter.attempts = 0
    flow = Emitter()
    with pytest.raises(RuntimeError, match="crashed after emitting"):
        flow.kickoff(store=url)
    resumed = Emitter()
    resumed.resume(flow.run_id, store=url)
    assert resumed.state["total"] == 5

    async def runs_of_count() -> int:
        store = await open_store(url)
        try:
            events = await store.read(flow.run_id)
        finally:
            await store.close()
        return sum(1 for e in events if isinstance(e, StepCompleted) and e.step == "count")

    assert asyncio.run(runs_of_count()) == 1


# -- a real server that drops its connections -------------------------------------------


PG = "postgresql://postgres@127.0.0.1:5432/test"


class Cut(Flow):
    """``cut`` has the server terminate the store's connections while it runs."""

    app = ""
    ran_after = False

    @start()
    async def first(self) -> int:
        return 1

    @listen(first)
    def cut(self, x: int) -> int:
        import psycopg

        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (Cut.app,),
            )
        return x + 1

    @listen(cut)
    async def after(self, x: int) -> int:
        Cut.ran_after = True
        return x


@pytest.mark.postgres
def test_a_run_whose_postgres_connections_are_cut_ends_with_a_store_error() -> None:
    """The server terminates the store's connections: kickoff raises a StoreError naming
    what could not be stored (it used to never return), and nothing after runs."""
    if os.environ.get("PLAIT_TEST_NO_POSTGRES"):
        pytest.skip("PostgreSQL is not installed here (PLAIT_TEST_NO_POSTGRES)")
    from plait.stores import PostgresStore

    tag = uuid.uuid4().hex[:12]
    Cut.app, Cut.ran_after = f"plait-cut-{tag}", False
    schema = f"plait_test_{tag}"

    async def go() -> None:
        store = await PostgresStore.connect(f"{PG}?application_name={Cut.app}", schema=schema)
        try:
            with pytest.raises(StoreError, match=r"step 'cut'|end of run"):
                await asyncio.wait_for(Cut().kickoff_async(store=store), timeout=60)
        finally:
            await store.close()

    try:
        asyncio.run(go())
    finally:
        drop_postgres_schema(schema)
    assert not Cut.ran_after
