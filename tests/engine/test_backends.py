"""Stores chosen by object, URL or environment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plait import Flow, PlaitError, start
from plait.engine import open_store
from plait.stores import MemoryStore


def test_a_store_object_is_used_as_is() -> None:
    store = MemoryStore()
    assert asyncio.run(open_store(store)) is store


@pytest.mark.parametrize("url", [None, "memory://", "memory"])
def test_memory_urls(url: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    assert isinstance(asyncio.run(open_store(url)), MemoryStore)


def test_the_environment_picks_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_STORE", "nosuch://x")
    with pytest.raises(PlaitError, match="nosuch://x"):
        asyncio.run(open_store(None))


def test_an_unknown_url_is_refused_before_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[int] = []

    class F(Flow):
        @start()
        def a(self) -> None:
            ran.append(1)

    with pytest.raises(PlaitError, match="unknown store"):
        F().kickoff(store="nosuch://x")
    assert ran == []


def test_a_sqlite_url_opens_a_file_store(tmp_path: Path) -> None:
    async def go() -> None:
        store = await open_store(f"sqlite:///{tmp_path}/runs.db")
        try:
            assert type(store).__name__ == "SqliteStore"
        finally:
            await store.close()

    asyncio.run(go())
    assert (tmp_path / "runs.db").exists()


def test_retention_deletes_old_finished_runs_when_the_store_opens(tmp_path: Path) -> None:
    import time

    from plait.engine import _backends
    from plait.runtime import RunRecord

    url = f"sqlite:///{tmp_path}/runs.db"
    now = time.time()

    async def seed() -> None:
        store = await open_store(url)
        try:
            for run_id, status, at in [
                ("old-done", "completed", now - 30 * 86400),
                ("old-failed", "failed", now - 9 * 86400),
                ("old-running", "running", now - 30 * 86400),
                ("new-done", "completed", now - 3600),
            ]:
                await store.create_run(
                    RunRecord(run_id=run_id, flow="f", status=status, created_at=at, updated_at=at)
                )
        finally:
            await store.close()

    async def ids(spec: str) -> list[str]:
        store = await open_store(spec)
        try:
            return sorted(r.run_id for r in await store.list_runs())
        finally:
            await store.close()

    asyncio.run(seed())
    _backends._last_pass.clear()
    assert asyncio.run(ids(url + "?retention=7d")) == ["new-done", "old-running"]
    with pytest.raises(PlaitError, match="store retention: 'soon' is not a duration"):
        asyncio.run(ids(url + "?retention=soon"))
