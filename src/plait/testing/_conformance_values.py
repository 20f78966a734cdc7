"""Conformance cases for stored values (see :mod:`plait.testing.conformance`): what goes
in comes back exactly, user data never reads as a type tag, and what cannot be stored
fails the same way in every store, naming the field."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import sys
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from plait.runtime import (
    Event,
    RunRecord,
    RunStarted,
    StateChanged,
    StepCompleted,
    Store,
)
from plait.testing._conformance_base import StoreFactory, _expect_store_error


class Colour(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Stamped(BaseModel):
    """A model with fields JSON has no type for: they come back typed."""

    when: dt.datetime
    amount: Decimal
    tags: set[str] = set()
    pair: tuple[int, str] = (0, "")
    colour: Colour = Colour.RED
    extra: Any = None


@dataclasses.dataclass
class Point:
    x: int
    y: float
    label: str = ""
    meta: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class Frozen:
    key: tuple[int, ...]
    at: dt.date


LOOKALIKES: list[Any] = [
    {"$tuple": [1, 2]},
    {"$bytes": "abc"},
    {"$bytes": "AAE="},
    {"$model": "this:x", "data": {"a": 1}},
    {"$model": ["this:x", {"a": 1}]},
    {"$dataclass": ["os:system", {"command": "true"}]},
    {"$enum": ["this:x", 1]},
    {"$set": [1]},
    {"$map": [[1, 2]]},
    {"$datetime": "not a date"},
    {"$": 1, "$$": 2, "$$tuple": [3]},
    {"$unknown": {"$tuple": "x"}},
]
"""User dicts shaped like the codec's tags: they must come back unchanged, and reading
them must import nothing (``this`` prints the Zen of Python when imported)."""


def rich_value() -> dict[str, Any]:
    """One of every kind of value the stores must give back exactly."""
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    return {
        "when": when,
        "naive": dt.datetime(2024, 1, 1, 0, 0),
        "day": dt.date(2024, 2, 29),
        "clock": dt.time(23, 59, 58, 1),
        "span": dt.timedelta(days=-1, seconds=5, microseconds=7),
        "money": Decimal("1.10"),
        "exp": Decimal("-1E+3"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "set": {1, "two", (3, 4)},
        "frozen": frozenset({b"x"}),
        "tuple": (1, (2, [3, {"k": (4,)}])),
        "bytes": b"\x00\xff",
        "by_int": {1: "a", 2: {3: "b"}},
        "by_mixed": {None: 0, 1.5: 1, (1, "x"): 2, Colour.RED: 3, "s": 4},
        "enum": Colour.BLUE,
        "int_enum": Level.HIGH,
        "floats": [float("inf"), float("-inf"), -0.0, 1e308],
        "big": 2**200,
        "range": range(3, 30, 4),
        "text": "é✓\x00\U0001f600",
        "model": Stamped(
            when=when, amount=Decimal("3.50"), tags={"a"}, pair=(1, "x"), extra=(1, b"y")
        ),
        "dataclass": Point(1, 2.5, "p", meta={"at": dt.date(2020, 1, 1)}),
        "frozen_dc": Frozen((1, 2), dt.date(2021, 3, 4)),
        "lookalikes": LOOKALIKES,
    }


def same(a: Any, b: Any) -> bool:
    """``a == b`` with the same types all the way down (1 is not 1.0, a tuple is not a
    list), and NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, BaseModel):
        return same(dict(a), dict(b))
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return bool(a == b)


async def check_round_trip(store: Store, run_id: str, value: Any) -> None:
    """``value`` through a run's record, its events and the cache of ``store``: it comes
    back the same (see :func:`same`)."""
    inputs = {"value": value, "text": "x" * 100}
    now = 1.0
    record = RunRecord(run_id=run_id, flow="flow", created_at=now, updated_at=now, inputs=inputs)
    await store.create_run(record)
    events: list[Event] = [
        RunStarted(
            run_id=run_id,
            seq=1,
            ts=now,
            flow="flow",
            inputs=dict(inputs),
            state={"id": run_id, **inputs},
        ),
        StepCompleted(run_id=run_id, seq=2, ts=now, step="s", invocation=1, output=value),
        StateChanged(run_id=run_id, seq=3, ts=now, step="s", changes={"v": value, "$v": 1}),
    ]
    await store.append(run_id, events)
    got = await store.get_run(run_id)
    assert got is not None and same(got.inputs, inputs), (got, inputs)
    back = await store.read(run_id)
    assert len(back) == len(events)
    for mine, theirs in zip(events, back, strict=True):
        for f in dataclasses.fields(mine):
            assert same(getattr(mine, f.name), getattr(theirs, f.name)), (f.name, theirs)
    await store.cache_put(f"value:{run_id}", value)
    entry = await store.cache_get(f"value:{run_id}")
    assert entry is not None and same(entry.value, value), entry


async def values_round_trip_exactly(factory: StoreFactory) -> None:
    """Datetimes, decimals, UUIDs, sets, tuples, bytes, enums, dicts with int keys,
    pydantic models and dataclasses come back as they went in, with their types, from a
    run's record, its events and the cache; so do dicts that look like type tags."""
    store = await factory.new()
    try:
        await check_round_trip(store, "r1", rich_value())
        if factory.durable:
            again = await factory.reopen()
            try:
                back = await again.read("r1")
                assert isinstance(back[1], StepCompleted) and same(back[1].output, rich_value())
            finally:
                await again.close()
    finally:
        await store.close()


async def tag_lookalikes_come_back_unchanged(factory: StoreFactory) -> None:
    """User dicts shaped like the codec's tags come back as they went in, and reading
    them imports nothing."""
    imported = "this" in sys.modules
    store = await factory.new()
    try:
        for i, value in enumerate(LOOKALIKES):
            await check_round_trip(store, f"r{i}", value)
            await check_round_trip(store, f"n{i}", {"nested": [value, (value,)]})
    finally:
        await store.close()
    assert imported or "this" not in sys.modules, "reading a stored value imported a module"


def _cyclic() -> dict[str, Any]:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    return loop


def _deep(levels: int) -> dict[str, Any]:
    top: dict[str, Any] = {}
    here = top
    for _ in range(levels):
        here["d"] = {}
        here = here["d"]
    return top


UNSTORABLE: list[tuple[str, Callable[[], Any], str]] = [
    ("huge int", lambda: {"n": [10**5000]}, ".n[0]"),
    ("lone surrogate", lambda: {"text": "ok\ud800"}, ".text"),
    ("cycle", _cyclic, ".self"),
    ("5,000 levels", lambda: _deep(5000), ".d.d"),
    ("object", lambda: {"items": [1, {"when": object()}]}, ".items[1].when"),
]
"""Values no store can hold: each fails with a StoreError naming the field."""


async def unstorable_values_name_the_field(factory: StoreFactory) -> None:
    """A value no store can hold fails the append (and the run's creation, and a cache
    put) with a StoreError that names the event, its step and the field, in every store
    — the memory store too, so that a flow that runs in memory runs on any store — and
    nothing of the batch is stored."""
    store = await factory.new()
    try:
        record = RunRecord(run_id="r1", flow="flow", created_at=1.0, updated_at=1.0)
        await store.create_run(record)
        start = RunStarted(run_id="r1", seq=1, ts=1.0, flow="flow", state={"id": "r1"})
        await store.append("r1", [start])
        for name, make, path in UNSTORABLE:
            bad = StepCompleted(run_id="r1", seq=2, ts=2.0, step="fetch", invocation=1)
            bad.output = make()
            error = await _expect_store_error(store.append("r1", [bad]))
            text = str(error)
            assert "'fetch'" in text and f"output{path}" in text, (name, text)
            assert "cannot be stored" in text, (name, text)
            error = await _expect_store_error(
                store.create_run(
                    RunRecord(run_id=f"bad-{name}", flow="flow", inputs={"topic": make()})
                )
            )
            assert f"inputs.topic{path}" in str(error), (name, str(error))
            assert await store.get_run(f"bad-{name}") is None
            error = await _expect_store_error(store.cache_put(f"k-{name}", make()))
            assert f"k-{name}" in str(error), (name, str(error))
        assert await store.read("r1") == [start]
    finally:
        await store.close()


async def generated_values_round_trip(factory: StoreFactory) -> None:
    """Values hypothesis makes up (nested dicts, lists, tuples, sets, datetimes, decimals,
    UUIDs, enums, bytes, int-keyed dicts, models, dataclasses, tag lookalikes) come back
    the same. Needs ``hypothesis`` (plait's dev extra)."""
    from hypothesis import HealthCheck, given, settings

    from plait.testing._strategies import values  # hypothesis is a dev dependency

    store = await factory.new()
    loop = asyncio.get_running_loop()
    count = 0

    @settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(values())
    def check(value: Any) -> None:
        nonlocal count
        count += 1
        done = asyncio.run_coroutine_threadsafe(check_round_trip(store, f"gen{count}", value), loop)
        done.result(timeout=60)

    try:
        await asyncio.to_thread(check)
    finally:
        await store.close()
