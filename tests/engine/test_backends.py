"""Stores chosen by object, URL or environment."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plait import Flow, PlaitError, start
from plait.engine import open_store
from plait.engine._backends import RunOwnStore
from plait.stores import MemoryStore


def test_a_store_object_is_used_as_is() -> None:
    store = MemoryStore()
    assert asyncio.run(open_store(store)) is store


@pytest.mark.parametrize("url", [None, "memory://", "memory"])
def test_memory_urls(url: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    assert isinstance(asyncio.run(open_store(url)), MemoryStore)


def test_a_run_given_no_store_gets_one_of_its_own_that_keeps_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new in-memory store for one run (no store, a memory URL, PLAIT_STORE=memory://)
    is the run's alone: it stores nothing of the run, which keeps its events itself.
    Opened for anything else (the CLI, a worker) it is a plain MemoryStore."""
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    for named in (None, "memory://"):
        assert type(asyncio.run(open_store(named, for_one_run=True))) is RunOwnStore
        assert type(asyncio.run(open_store(named))) is MemoryStore
    monkeypatch.setenv("PLAIT_STORE", "memory://")
    assert type(asyncio.run(open_store(None, for_one_run=True))) is RunOwnStore

    class Two(Flow):
        @start()
        def a(self) -> int:
            return 1

    flow = Two()
    monkeypatch.delenv("PLAIT_STORE")
    assert flow.kickoff() == 1
    assert [type(e).__name__ for e in flow.events] == [
        "RunStarted",
        "StepStarted",
        "StepCompleted",
        "RunCompleted",
    ]


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


# -- store URLs: what a backend gets, what is refused, what is shown -------------------


@pytest.mark.parametrize(
    ("url", "rest", "options"),
    [
        (
            "postgresql://u@h/db?options=-c%20statement_timeout%3D5000&schema=s",
            "postgresql://u@h/db?options=-c%20statement_timeout%3D5000",
            {"schema": "s"},
        ),
        (
            "postgresql://u@h/db?application_name=a%26b&retention=7d",
            "postgresql://u@h/db?application_name=a%26b",
            {"retention": "7d"},
        ),
        ("postgres://h/db?schema=my%20runs", "postgres://h/db", {"schema": "my runs"}),
        (
            "redis://:p%40ss@h:6379/0?prefix=a%2Fb&socket_timeout=3",
            "redis://:p%40ss@h:6379/0?socket_timeout=3",
            {"prefix": "a/b"},
        ),
        ("sqlite:///runs.db?retention=30d", "sqlite:///runs.db", {"retention": "30d"}),
        ("memory", "memory://", {}),
    ],
)
def test_backend_options_pass_through_as_written(
    url: str, rest: str, options: dict[str, str]
) -> None:
    from plait.engine._backends import parse_store_url

    parsed = parse_store_url(url)
    assert (parsed.rest, parsed.options) == (rest, options)


@pytest.mark.postgres
def test_postgres_gets_its_query_options_intact() -> None:
    import uuid

    import psycopg

    from tests.engine.conftest import drop_postgres_schema

    tag = uuid.uuid4().hex[:8]
    schema = f"plait_test_{tag}"
    url = (
        "postgresql://postgres@127.0.0.1:5432/test?options=-c%20statement_timeout%3D5000"
        f"&application_name=plait%26{tag}&schema={schema}"
    )

    async def names() -> list[str]:
        store = await open_store(url)
        try:
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as conn:
                rows = conn.execute(
                    "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE %s",
                    (f"%{tag}",),
                ).fetchall()
            return sorted({r[0] for r in rows})
        finally:
            await store.close()

    try:
        assert asyncio.run(names()) == [f"plait&{tag}"]
    finally:
        drop_postgres_schema(schema)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://[::1/test", "is not a valid URL"),
        ("redis://[::1", "is not a valid URL"),
        ("postgresql://u@h:port/db", "is not a valid URL"),
        ("postgresql://u@h/db?bogus=1", "is not one PostgreSQL understands"),
        ("postgresql://u@h/db?application_name=a&b", "is not one PostgreSQL understands"),
        ("sqlite:///runs.db?mode=ro", "takes no option 'mode'"),
        ("sqlite:///runs.db#main", "#fragment"),
        ("sqlite://host/runs.db", "write sqlite:///relative.db"),
        ("memory://?size=3", "takes no option 'size'"),
        ("memory://somewhere", "in-memory store has no host or path"),
        ("nosuch://x", "unknown store URL"),
    ],
)
def test_urls_a_store_does_not_understand_are_refused_clearly(
    url: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plait.core import StoreError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=message) as info:
        asyncio.run(open_store(url))
    assert "cannot connect" not in str(info.value)  # not blamed on the server
    assert list(tmp_path.iterdir()) == []  # no file named "runs.db?mode=ro" or the like


def test_a_sqlite_path_is_percent_decoded(tmp_path: Path) -> None:
    async def go() -> None:
        store = await open_store(f"sqlite:///{tmp_path}/my%3Fruns%20here.db?retention=30d")
        await store.close()

    asyncio.run(go())
    assert [p.name for p in tmp_path.iterdir()] == ["my?runs here.db"]


@pytest.mark.redis
def test_redis_gets_its_options_and_plait_its_prefix() -> None:
    async def go() -> tuple[str, str]:
        store = await open_store("redis://127.0.0.1:6379/0?prefix=a%2Fb&socket_timeout=3")
        try:
            return store.url, store.prefix  # type: ignore[attr-defined]
        finally:
            await store.close()

    assert asyncio.run(go()) == ("redis://127.0.0.1:6379/0?socket_timeout=3", "a/b")


@pytest.mark.parametrize(
    "url",
    [
        "nosuch://app:hunter2@h/x",
        "postgresql://app:hunter2@[::1/test",
        "postgresql://app:hunter2@h/db?bogus=1",
        "postgresql://app@h/db?password=hunter2&bogus=1",
        "redis://:hun/ter2@h:x/0",
        "sqlite://app:hunter2@h/runs.db",
        "host=h password=hunter2",
        # an unencoded "@" in the user name (Azure's user@server): libpq splits at the
        # first "@", so the password lands in what it calls the host
        "postgresql://app@server:hunter2@127.0.0.1:5432/x",
        "postgresql://app:hunter2@more@127.0.0.1:5432/x",
    ],
)
def test_errors_about_a_store_url_mask_its_password(url: str) -> None:
    with pytest.raises(PlaitError) as info:
        asyncio.run(open_store(url))
    assert "hunter2" not in str(info.value) and "ter2" not in str(info.value)
    assert "***" in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/runs", "postgresql://app:***@db:5432/runs"),
        (
            "postgresql://app@db/runs?password=s3cret&x=1",
            "postgresql://app@db/runs?password=***&x=1",
        ),
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://:s3/cr?et@h/0", "redis://:***@h/0"),
        ("postgresql://u:s3@cret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:s3cret@[::1/test", "postgresql://u:***@[::1/test"),
        ("host=db password='s3 cret' user=u", "host=db password=*** user=u"),
        (
            "postgresql://app@db/runs?application_name=a@b",
            "postgresql://app@db/runs?application_name=a@b",
        ),
        ("sqlite:///.plait/runs.db", "sqlite:///.plait/runs.db"),
        ("memory://", "memory://"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    from plait.core import mask_url

    assert mask_url(url) == shown


def test_mask_secrets_masks_every_url_in_a_text() -> None:
    from plait.core import mask_secrets

    text = "cannot open 'postgresql://a:s3cret@h/d' nor redis://:x2@r/0: refused"
    assert (
        mask_secrets(text) == "cannot open 'postgresql://a:***@h/d' nor redis://:***@r/0: refused"
    )
