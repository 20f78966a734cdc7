"""Store URL schemes come from a registry: plait's own, ``register_store_scheme`` calls and
entry points in the group ``plait.stores`` (loaded only when their scheme is used);
``owned_store`` closes only what it opened; ``load_run``/``find_run`` read a stored run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from plait.core import RunError, StoreError
from plait.engine import (
    StoreScheme,
    StoreURL,
    _schemes,
    find_run,
    follow_run,
    load_run,
    open_store,
    owned_store,
    register_store_scheme,
    unregister_store_scheme,
)
from plait.runtime import RunRecord, RunStarted, StepStarted
from plait.stores import MemoryStore


class Closable(MemoryStore):
    """A memory store that remembers how it was opened and whether it was closed."""

    def __init__(self, where: StoreURL | None = None) -> None:
        super().__init__()
        self.where = where
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def open_closable(where: StoreURL) -> Closable:
    return Closable(where)


async def open_closable_later(where: StoreURL) -> Closable:
    await asyncio.sleep(0)
    return Closable(where)


entry_point_scheme = StoreScheme(open=open_closable, options=("size",), example="ep://x")
"""What the fake entry points below point at."""


@pytest.fixture
def schemes() -> Iterator[list[str]]:
    """Schemes a test registers; unregistered after it."""
    made: list[str] = []
    yield made
    for name in made:
        unregister_store_scheme(name)


class FakeEntryPoint:
    """An entry point that counts its loads."""

    def __init__(self, name: str, target: Any) -> None:
        self.name, self.value, self.group = name, f"fake.module:{name}", "plait.stores"
        self.target = target
        self.loads = 0

    def load(self) -> Any:
        self.loads += 1
        if isinstance(self.target, BaseException):
            raise self.target
        return self.target


def _entry_points(monkeypatch: pytest.MonkeyPatch, *points: Any) -> None:
    def found(*, group: str) -> list[Any]:
        assert group == "plait.stores"
        return list(points)

    monkeypatch.setattr(_schemes, "entry_points", found)


def test_a_registered_scheme_opens_with_its_options_taken_out(schemes: list[str]) -> None:
    register_store_scheme("fake", open_closable, options=("size",), example="fake://host")
    schemes.append("fake")
    store = asyncio.run(open_store("FAKE://host/x?size=3&keep=a%26b&retention=30d"))
    assert isinstance(store, Closable) and store.where is not None
    assert store.where.kind == "fake"
    assert store.where.rest == "FAKE://host/x?keep=a%26b"  # the rest as written
    assert store.where.options == {"size": "3", "retention": "30d"}


def test_an_opener_may_be_async(schemes: list[str]) -> None:
    register_store_scheme("later", open_closable_later)
    schemes.append("later")
    assert isinstance(asyncio.run(open_store("later://")), Closable)


def test_a_scheme_is_registered_once_unless_replaced(schemes: list[str]) -> None:
    register_store_scheme("twice", open_closable)
    schemes.append("twice")
    with pytest.raises(StoreError, match="already registered"):
        register_store_scheme("twice", open_closable_later)
    register_store_scheme("twice", open_closable_later, replace=True)
    with pytest.raises(StoreError, match="already registered"):
        register_store_scheme("sqlite", open_closable)


@pytest.mark.parametrize("name", ["", "1abc", "a b", "x://", "a_b"])
def test_a_scheme_name_must_be_a_url_scheme(name: str) -> None:
    with pytest.raises(StoreError, match="not a URL scheme"):
        register_store_scheme(name, open_closable)


def test_an_opener_must_give_a_store(schemes: list[str]) -> None:
    register_store_scheme("notastore", lambda where: object())  # type: ignore[arg-type, return-value]
    schemes.append("notastore")
    with pytest.raises(StoreError, match="not a store"):
        asyncio.run(open_store("notastore://"))


def test_an_entry_point_loads_only_when_its_scheme_is_used(
    monkeypatch: pytest.MonkeyPatch, schemes: list[str]
) -> None:
    point = FakeEntryPoint("ep", entry_point_scheme)
    other = FakeEntryPoint("unused", entry_point_scheme)
    _entry_points(monkeypatch, point, other)
    schemes.extend(["ep", "unused"])
    asyncio.run(open_store("memory://"))
    assert (point.loads, other.loads) == (0, 0)
    store = asyncio.run(open_store("ep://h/db?size=2"))
    assert isinstance(store, Closable) and store.where is not None
    assert store.where.options == {"size": "2"} and store.where.rest == "ep://h/db"
    asyncio.run(open_store("ep://again"))
    assert (point.loads, other.loads) == (1, 0)  # loaded once, then registered


def test_a_real_entry_point_object_loads_its_target(
    monkeypatch: pytest.MonkeyPatch, schemes: list[str]
) -> None:
    target = f"{__name__}:open_closable"
    _entry_points(monkeypatch, EntryPoint(name="real", value=target, group="plait.stores"))
    schemes.append("real")
    assert isinstance(asyncio.run(open_store("real://")), Closable)


def test_registered_schemes_win_over_entry_points(
    monkeypatch: pytest.MonkeyPatch, schemes: list[str]
) -> None:
    point = FakeEntryPoint("sqlite", entry_point_scheme)
    _entry_points(monkeypatch, point)

    async def go() -> str:
        async with owned_store("sqlite:///runs.db") as store:
            return type(store).__name__

    monkeypatch.chdir(__import__("tempfile").mkdtemp())
    assert asyncio.run(go()) == "SqliteStore" and point.loads == 0


def test_an_unknown_scheme_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    point = FakeEntryPoint("thirdparty", entry_point_scheme)
    _entry_points(monkeypatch, point)
    with pytest.raises(StoreError) as info:
        asyncio.run(open_store("nosuch://x"))
    message = str(info.value)
    assert "unknown store URL 'nosuch://x'" in message
    for name in ("memory", "sqlite", "postgresql", "postgres", "redis", "thirdparty"):
        assert name in message
    assert "plait.stores" in message and "register_store_scheme" in message
    assert point.loads == 0


def test_an_entry_point_that_does_not_load_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    _entry_points(monkeypatch, FakeEntryPoint("broken", ImportError("no module named x")))
    with pytest.raises(StoreError, match=r"fake\.module:broken.*cannot be loaded.*no module"):
        asyncio.run(open_store("broken://x"))


def test_owned_store_closes_what_it_opened_and_only_that(schemes: list[str]) -> None:
    register_store_scheme("closable", open_closable)
    schemes.append("closable")
    given = Closable()

    async def go() -> tuple[Any, Any]:
        async with owned_store("closable://") as opened:
            assert not opened.closed  # type: ignore[attr-defined]
        async with owned_store(given) as same:
            assert same is given
        return opened, same

    opened, same = asyncio.run(go())
    assert opened.closed and not same.closed


def test_owned_store_closes_on_errors_too(schemes: list[str]) -> None:
    register_store_scheme("closable", open_closable)
    schemes.append("closable")
    seen: list[Any] = []

    async def go() -> None:
        async with owned_store("closable://") as opened:
            seen.append(opened)
            raise KeyError("boom")

    with pytest.raises(KeyError):
        asyncio.run(go())
    assert seen[0].closed


def _stored(first: Any = RunStarted) -> MemoryStore:
    store = MemoryStore()

    async def fill() -> None:
        await store.create_run(RunRecord(run_id="r1", flow="f"))
        if first is RunStarted:
            await store.append("r1", [RunStarted(run_id="r1", seq=1, ts=1.0, flow="f")])
        else:
            await store.append(
                "r1", [StepStarted(run_id="r1", seq=1, ts=1.0, step="s", invocation=1)]
            )

    asyncio.run(fill())
    return store


def test_find_run_reads_the_record_and_the_log() -> None:
    store = _stored()
    found = asyncio.run(find_run(store, "r1"))
    assert found is not None and found.record.flow == "f"
    assert [type(e) for e in found.events] == [RunStarted]
    assert asyncio.run(find_run(store, "nope")) is None


def test_load_run_checks_the_run_its_flow_and_its_start() -> None:
    store = _stored()
    assert asyncio.run(load_run(store, "r1", flow="f", started=True)).record.run_id == "r1"
    with pytest.raises(RunError, match="no run nope in this store"):
        asyncio.run(load_run(store, "nope"))
    with pytest.raises(RunError, match="is a run of 'f', not of 'g'"):
        asyncio.run(load_run(store, "r1", flow="g"))
    broken = _stored(first=StepStarted)
    assert asyncio.run(load_run(broken, "r1")).events  # not checked unless asked
    with pytest.raises(StoreError, match="does not begin with RunStarted"):
        asyncio.run(load_run(broken, "r1", started=True))


def test_follow_run_opens_a_url_follows_and_closes(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"

    async def go() -> list[int]:
        async with owned_store(url) as store:
            await store.create_run(RunRecord(run_id="r1", flow="f"))
            await store.append("r1", [RunStarted(run_id="r1", seq=1, ts=1.0, flow="f")])
            await store.set_status("r1", "completed")
        return [e.seq async for e in follow_run("r1", store=url)]

    assert asyncio.run(go()) == [1]
