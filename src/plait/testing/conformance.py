"""The conformance suite every :class:`~plait.runtime.Store` must pass.

Each case is an async function taking a :class:`StoreFactory`. Run them from pytest::

    @pytest.mark.parametrize("case", conformance.CASES, ids=lambda c: c.__name__)
    def test_my_store(case):
        asyncio.run(case(MyStoreFactory()))

A factory opens a store on a fresh, empty location (``new()``), and can open a second
store on the same location (``reopen()``) — durable stores must show the same data there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from plait.runtime import (
    Event,
    RunCompleted,
    RunStarted,
    StateChanged,
    StepCompleted,
    StepStarted,
    Store,
)
from plait.testing._conformance_base import (
    Sample,
    StoreFactory,
    _events,
    _expect_store_error,
    _finished,
    _record,
)
from plait.testing._conformance_leases import (
    cache_entries_expire,
    cache_round_trip,
    concurrent_acquire_has_one_winner,
    lease_acquire_renew_release,
    lease_expires,
    lease_of_unknown_run_is_refused,
    lease_takeover_with_replace,
    run_created_with_its_lease_is_held,
    unserialisable_cache_value_is_refused,
)
from plait.testing._conformance_tail import (
    tail_follows_a_live_run_step_by_step,
    tail_keeps_up_with_a_fast_writer,
    tail_of_a_finished_run_returns_its_log_and_ends,
    tail_of_unknown_run_is_refused,
)
from plait.testing._conformance_values import (
    generated_values_round_trip,
    tag_lookalikes_come_back_unchanged,
    unstorable_values_name_the_field,
    values_round_trip_exactly,
)

__all__ = ["CASES", "Sample", "StoreFactory"]


async def run_round_trip(factory: StoreFactory) -> None:
    """A created run reads back; an unknown run is None."""
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        got = await store.get_run("r1")
        assert got is not None and got.run_id == "r1" and got.flow == "flow"
        assert got.status == "running" and got.inputs == {"a": 1}
        assert await store.get_run("nope") is None
    finally:
        await store.close()


async def duplicate_run_is_refused(factory: StoreFactory) -> None:
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        await _expect_store_error(store.create_run(_record("r1")))
    finally:
        await store.close()


async def events_read_back_in_order(factory: StoreFactory) -> None:
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        events = _events("r1", 1, 5)
        await store.append("r1", events[:2])
        await store.append("r1", events[2:])
        assert await store.read("r1") == events
        assert await store.read("r1", after=3) == events[3:]
        assert await store.read("r1", after=5) == []
    finally:
        await store.close()


async def every_event_of_long_batches_reads_back_from_any_point(factory: StoreFactory) -> None:
    """Appends of one event, of a few, and of more than a SQL store keeps in one row
    (256), one with gaps in its numbers: the log reads back whole, from every point, and
    from a reopened store; an append that repeats an event is refused."""
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        events = _events("r1", 1, 600)
        gapped = [e for e in _events("r1", 601, 12) if e.seq not in (602, 605, 606)]
        parts = (events[:1], events[1:4], events[4:5], events[5:590], events[590:], gapped)
        for part in parts:
            await store.append("r1", part)
        events += gapped
        assert await store.read("r1") == events
        points = (0, 1, 2, 3, 4, 5, 6, 200, 260, 261, 262, 589, 590, 591, 599, 600, 601)
        for after in (*points, 602, 603, 604, 605, 606, 607, 612):
            assert await store.read("r1", after=after) == [e for e in events if e.seq > after]
        await _expect_store_error(store.append("r1", _events("r1", 612, 2)))  # a repeat
        assert await store.read("r1", after=598) == events[598:]
    finally:
        await store.close()
    if not factory.durable:
        return
    store = await factory.reopen()
    try:
        assert await store.read("r1") == events
        assert await store.read("r1", after=300) == events[300:]
    finally:
        await store.close()


async def models_tuples_and_bytes_round_trip(factory: StoreFactory) -> None:
    """Pydantic models, tuples, bytes and unicode come back as they went in."""
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        value = {"model": Sample(title="t", tags=["a"]), "pair": (1, "b"), "raw": b"\x00\xff"}
        events: list[Event] = [
            RunStarted(run_id="r1", seq=1, ts=1.0, flow="flow", state={"id": "r1"}),
            StateChanged(run_id="r1", seq=2, ts=2.0, step="s", changes=value, removed=("gone",)),
            RunCompleted(run_id="r1", seq=3, ts=3.0, output=Sample(title="done"), duration=1.0),
        ]
        await store.append("r1", events)
        back = await store.read("r1")
        assert back == events
        assert isinstance(back[2], RunCompleted) and isinstance(back[2].output, Sample)
    finally:
        await store.close()


async def unknown_run_is_refused(factory: StoreFactory) -> None:
    store = await factory.new()
    try:
        await _expect_store_error(store.append("nope", _events("nope", 1, 1)))
        await _expect_store_error(store.read("nope"))
        await _expect_store_error(store.set_status("nope", "completed"))
    finally:
        await store.close()


async def out_of_order_batch_is_refused_whole(factory: StoreFactory) -> None:
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        events = _events("r1", 1, 4)
        await store.append("r1", events[:2])
        await _expect_store_error(store.append("r1", [events[2], events[1]]))
        await _expect_store_error(store.append("r1", events[:1]))
        assert await store.read("r1") == events[:2]
        await store.append("r1", events[2:])
        assert await store.read("r1") == events
    finally:
        await store.close()


async def unserialisable_batch_is_refused_whole(factory: StoreFactory) -> None:
    """A value no store can hold fails with an error naming the field, and nothing of the
    batch is stored (in memory too, so a flow behaves the same on every store)."""
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        good = _events("r1", 1, 2)
        await store.append("r1", good)
        bad = StepCompleted(
            run_id="r1", seq=3, ts=3.0, step="s", invocation=1, output={"handle": object()}
        )
        ok = StepStarted(run_id="r1", seq=4, ts=4.0, step="t", invocation=1)
        error = await _expect_store_error(store.append("r1", [bad, ok]))
        assert "output.handle" in str(error)
        assert await store.read("r1") == good
    finally:
        await store.close()


async def status_and_listing(factory: StoreFactory) -> None:
    store = await factory.new()
    try:
        await store.create_run(_record("a", flow="f1", created_at=1.0))
        await store.create_run(_record("b", flow="f2", created_at=2.0))
        await store.create_run(_record("c", flow="f1", created_at=3.0))
        await store.set_status("a", "failed", error="boom")
        got = await store.get_run("a")
        assert got is not None and got.status == "failed" and got.error == "boom"
        assert [r.run_id for r in await store.list_runs()] == ["c", "b", "a"]
        assert [r.run_id for r in await store.list_runs(flow="f1")] == ["c", "a"]
        assert [r.run_id for r in await store.list_runs(status="failed")] == ["a"]
        assert [r.run_id for r in await store.list_runs(limit=1)] == ["c"]
    finally:
        await store.close()


async def delete_removes_run_and_events(factory: StoreFactory) -> None:
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        await store.append("r1", _events("r1", 1, 3))
        assert await store.delete_run("r1") is True
        assert await store.get_run("r1") is None
        assert await store.delete_run("r1") is False
        await _expect_store_error(store.read("r1"))
    finally:
        await store.close()


async def concurrent_runs_do_not_mix(factory: StoreFactory) -> None:
    """Many runs appending at once (parallel tasks) keep separate, complete logs."""
    store = await factory.new()
    try:
        ids = [f"run{i}" for i in range(20)]
        for run_id in ids:
            await store.create_run(_record(run_id))

        async def write(run_id: str) -> None:
            for start in range(1, 31, 3):
                await store.append(run_id, _events(run_id, start, 3))

        await asyncio.gather(*(write(run_id) for run_id in ids))
        for run_id in ids:
            assert [e.seq for e in await store.read(run_id)] == list(range(1, 31))
    finally:
        await store.close()


async def data_survives_reopening(factory: StoreFactory) -> None:
    """Durable stores: a second store on the same location sees everything."""
    if not factory.durable:
        return
    store = await factory.new()
    events = _events("r1", 1, 5)
    try:
        await store.create_run(_record("r1"))
        await store.append("r1", events)
        await store.set_status("r1", "completed")
    finally:
        await store.close()
    again = await factory.reopen()
    try:
        got = await again.get_run("r1")
        assert got is not None and got.status == "completed"
        assert await again.read("r1") == events
    finally:
        await again.close()


async def _ids(store: Store) -> list[str]:
    return sorted(r.run_id for r in await store.list_runs(limit=1000))


async def prune_by_age(factory: StoreFactory) -> None:
    """Finished runs last updated before ``older_than`` go, with their events; newer
    ones and other runs' events stay; the count is returned."""
    store = await factory.new()
    try:
        for run_id, at, status in [
            ("old1", 10.0, "completed"),
            ("old2", 20.0, "failed"),
            ("old3", 25.0, "cancelled"),
            ("new1", 40.0, "completed"),
        ]:
            await store.create_run(_finished(run_id, at=at, status=status))
            await store.append(run_id, _events(run_id, 1, 3))
        assert await store.prune(older_than=30.0, dry_run=True) == 3
        assert await _ids(store) == ["new1", "old1", "old2", "old3"]
        assert await store.prune(older_than=30.0) == 3
        assert await _ids(store) == ["new1"]
        for run_id in ("old1", "old2", "old3"):
            assert await store.get_run(run_id) is None
            await _expect_store_error(store.read(run_id))
        assert await store.read("new1") == _events("new1", 1, 3)
        assert await store.prune(older_than=30.0) == 0
        await store.create_run(_record("r1"))  # the store still works after pruning
        await store.append("r1", _events("r1", 1, 2))
        assert await store.read("r1") == _events("r1", 1, 2)
    finally:
        await store.close()


async def prune_keeps_latest_per_flow(factory: StoreFactory) -> None:
    """``keep_latest`` keeps the N newest finished runs of each flow; with ``older_than``
    too, only runs both old and beyond the N newest go; ``flow`` limits it to one flow;
    ``statuses`` limits which finished runs go."""
    store = await factory.new()
    try:
        for i in range(1, 5):
            await store.create_run(_finished(f"a{i}", flow="fa", at=float(i)))
            await store.append(f"a{i}", _events(f"a{i}", 1, 2))
            await store.create_run(_finished(f"b{i}", flow="fb", at=float(i) + 0.5))
        await store.create_run(_finished("c1", flow="fc", at=1.0, status="failed"))
        # a running run is never counted among the kept ones, nor pruned
        await store.create_run(_record("a9", flow="fa", created_at=9.0))
        assert await store.prune(keep_latest=3, flow="fa") == 1
        assert await store.get_run("a1") is None and await store.get_run("a2") is not None
        assert await store.prune(keep_latest=1, older_than=3.0) == 3  # a2, b1, b2
        assert await _ids(store) == ["a3", "a4", "a9", "b3", "b4", "c1"]
        assert await store.prune(keep_latest=0, statuses=["failed"]) == 1
        assert await store.get_run("c1") is None
        assert await store.prune(keep_latest=1) == 2  # a3, b3
        assert await _ids(store) == ["a4", "a9", "b4"]
        assert await store.read("a4") == _events("a4", 1, 2)
    finally:
        await store.close()


async def prune_never_touches_unfinished_runs(factory: StoreFactory) -> None:
    """Running and waiting runs stay, even when ``statuses`` names them."""
    store = await factory.new()
    try:
        await store.create_run(_record("run", created_at=1.0))
        await store.append("run", _events("run", 1, 3))
        await store.create_run(_finished("wait", at=1.0, status="waiting"))
        await store.create_run(_finished("done", at=1.0))
        assert await store.prune(older_than=1e12) == 1
        assert await store.prune(older_than=1e12, statuses=("running", "waiting")) == 0
        assert await store.prune(keep_latest=0, statuses=("running", "waiting", "done")) == 0
        assert await _ids(store) == ["run", "wait"]
        assert await store.read("run") == _events("run", 1, 3)
        await store.append("run", _events("run", 4, 1))
    finally:
        await store.close()


async def list_runs_by_creation_time(factory: StoreFactory) -> None:
    """``since`` <= created_at < ``before``, with the other filters and ``limit``."""
    store = await factory.new()
    try:
        for i, flow in enumerate(["f1", "f2", "f1", "f2"], start=1):
            await store.create_run(_record(f"r{i}", flow=flow, created_at=float(i)))

        async def ids(**filters: Any) -> list[str]:
            return [r.run_id for r in await store.list_runs(**filters)]

        assert await ids(since=2.0) == ["r4", "r3", "r2"]
        assert await ids(before=3.0) == ["r2", "r1"]
        assert await ids(since=2.0, before=4.0) == ["r3", "r2"]
        assert await ids(since=2.0, flow="f1") == ["r3"]
        assert await ids(since=1.0, before=4.0, limit=2) == ["r3", "r2"]
        assert await ids(since=5.0) == [] and await ids(before=1.0) == []
    finally:
        await store.close()


CASES: list[Callable[[StoreFactory], Awaitable[None]]] = [
    run_round_trip,
    duplicate_run_is_refused,
    events_read_back_in_order,
    every_event_of_long_batches_reads_back_from_any_point,
    models_tuples_and_bytes_round_trip,
    values_round_trip_exactly,
    tag_lookalikes_come_back_unchanged,
    unstorable_values_name_the_field,
    generated_values_round_trip,
    unknown_run_is_refused,
    out_of_order_batch_is_refused_whole,
    unserialisable_batch_is_refused_whole,
    status_and_listing,
    delete_removes_run_and_events,
    concurrent_runs_do_not_mix,
    data_survives_reopening,
    prune_by_age,
    prune_keeps_latest_per_flow,
    prune_never_touches_unfinished_runs,
    list_runs_by_creation_time,
    lease_acquire_renew_release,
    run_created_with_its_lease_is_held,
    lease_expires,
    concurrent_acquire_has_one_winner,
    lease_of_unknown_run_is_refused,
    lease_takeover_with_replace,
    cache_round_trip,
    cache_entries_expire,
    unserialisable_cache_value_is_refused,
    tail_follows_a_live_run_step_by_step,
    tail_keeps_up_with_a_fast_writer,
    tail_of_a_finished_run_returns_its_log_and_ends,
    tail_of_unknown_run_is_refused,
]
