"""Time travel: checkpoints, the state at one, diffs, and forks that resume goes on with."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from plait import Flow, InputError, RunError, StoreError, listen, or_, router, start
from plait.engine import MISSING, Checkpoint, checkpoints, diff, fork, open_store, state_at
from plait.runtime import StepCompleted

RAN: Counter[str] = Counter()


class Four(Flow[dict[str, Any]]):
    @start()
    def one(self) -> int:
        RAN["one"] += 1
        self.state["a"] = 1
        self.state["tmp"] = "x"
        return 1

    @listen(one)
    def two(self) -> int:
        RAN["two"] += 1
        self.state["b"] = self.state["a"] + 1
        return 2

    @listen(two)
    def three(self) -> int:
        RAN["three"] += 1
        self.state["c"] = self.state["b"] * 10
        del self.state["tmp"]
        return 3

    @listen(three)
    def four(self) -> int:
        RAN["four"] += 1
        self.state["d"] = self.state["c"] + 1
        return int(self.state["d"])


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/travel.db"


async def _events(url: str, run_id: str) -> list[Any]:
    store = await open_store(url)
    try:
        return await store.read(run_id)
    finally:
        await store.close()


async def _run(url: str) -> tuple[str, Any]:
    RAN.clear()
    flow = Four()
    result = await flow.kickoff_async(store=url)
    assert flow.run_id is not None
    return flow.run_id, result


def test_checkpoints_state_at_and_diff(tmp_path: Path) -> None:
    async def go() -> None:
        url = _url(tmp_path)
        run_id, result = await _run(url)
        assert result == 21
        marks = await checkpoints(run_id, store=url)
        assert all(isinstance(m, Checkpoint) for m in marks)
        assert [m.step for m in marks] == ["", "one", "two", "three", "four"]
        assert marks[0].seq == 1
        assert [m.invocation for m in marks[1:]] == [1, 1, 1, 1]
        assert [m.seq for m in marks] == sorted(m.seq for m in marks)
        events = await _events(url, run_id)
        completed = [e.seq for e in events if isinstance(e, StepCompleted)]
        assert [m.seq for m in marks[1:]] == completed

        states = [await state_at(run_id, m.seq, store=url) for m in marks]
        plain = [{k: v for k, v in s.items() if k != "id"} for s in states]
        assert plain == [
            {},
            {"a": 1, "tmp": "x"},
            {"a": 1, "tmp": "x", "b": 2},
            {"a": 1, "b": 2, "c": 20},
            {"a": 1, "b": 2, "c": 20, "d": 21},
        ]

        changed = await diff(run_id, marks[2].seq, marks[4].seq, store=url)
        assert changed == {"tmp": ("x", MISSING), "c": (MISSING, 20), "d": (MISSING, 21)}
        assert await diff(run_id, marks[4].seq, marks[4].seq, store=url) == {}
        back = await diff(run_id, marks[3].seq, marks[1].seq, store=url)
        assert back == {"b": (2, MISSING), "c": (20, MISSING), "tmp": (MISSING, "x")}

    asyncio.run(go())


def test_a_fork_with_an_edited_state_runs_only_the_later_steps(tmp_path: Path) -> None:
    async def go() -> None:
        url = _url(tmp_path)
        run_id, result = await _run(url)
        before = await _events(url, run_id)
        at_two = (await checkpoints(run_id, store=url))[2]
        assert at_two.step == "two"

        new_id = await fork(Four(), run_id, at_two.seq, store=url, state_changes={"b": 5})
        assert new_id != run_id
        assert (await state_at(new_id, at_two.seq + 1, store=url))["b"] == 5

        RAN.clear()
        flow = Four()
        assert await flow.resume_async(new_id, store=url) == 51
        assert dict(RAN) == {"three": 1, "four": 1}
        forked = await _events(url, new_id)
        done = [e.step for e in forked if isinstance(e, StepCompleted)]
        assert done == ["one", "two", "three", "four"]
        final = await state_at(new_id, forked[-1].seq, store=url)
        assert (final["b"], final["c"], final["d"]) == (5, 50, 51)
        assert final["id"] == new_id  # the fork's state is its own run's

        after = await _events(url, run_id)  # the original run is unchanged
        assert len(after) == len(before)
        assert [type(e).__name__ for e in after] == [type(e).__name__ for e in before]
        store = await open_store(url)
        try:
            record = await store.get_run(run_id)
            assert record is not None and record.status == "completed"
        finally:
            await store.close()
        assert result == 21

    asyncio.run(go())


def test_rolling_back_is_a_fork_at_an_earlier_checkpoint(tmp_path: Path) -> None:
    async def go() -> None:
        url = _url(tmp_path)
        run_id, _ = await _run(url)
        start_mark = (await checkpoints(run_id, store=url))[0]
        new_id = await fork(Four(), run_id, start_mark.seq, store=url)
        RAN.clear()
        assert await Four().resume_async(new_id, store=url) == 21
        assert dict(RAN) == {"one": 1, "two": 1, "three": 1, "four": 1}

    asyncio.run(go())


def test_bad_seqs_and_runs_get_clear_errors(tmp_path: Path) -> None:
    async def go() -> None:
        url = _url(tmp_path)
        run_id, _ = await _run(url)
        last = len(await _events(url, run_id))
        with pytest.raises(RunError, match=f"has no event {last + 5}"):
            await state_at(run_id, last + 5, store=url)
        with pytest.raises(RunError, match="has no event 0"):
            await diff(run_id, 0, 1, store=url)
        with pytest.raises(RunError, match="no run nope"):
            await checkpoints("nope", store=url)
        marks = {m.seq for m in await checkpoints(run_id, store=url)}
        not_a_mark = next(s for s in range(1, last + 1) if s not in marks)
        with pytest.raises(RunError, match="is not a checkpoint"):
            await fork(Four(), run_id, not_a_mark, store=url)
        with pytest.raises(RunError, match="has no event"):
            await fork(Four(), run_id, last + 1, store=url)
        store = await open_store(url)
        try:
            assert len(await store.list_runs()) == 1  # no fork was stored
        finally:
            await store.close()

    asyncio.run(go())


class Loop(Flow[dict[str, Any]]):
    @start()
    def begin(self) -> None:
        RAN["begin"] += 1
        self.state["laps"] = 0

    @router(or_(begin, "again"))
    def lap(self) -> str:
        RAN["lap"] += 1
        self.state["laps"] += 1
        return "again" if self.state["laps"] < self.state.get("until", 3) else "done"

    @listen("done")
    def finish(self) -> int:
        RAN["finish"] += 1
        return int(self.state["laps"])


def test_a_fork_at_a_router_follows_its_label_on_a_store_object() -> None:
    async def go() -> None:
        store = await open_store("memory://")
        try:
            RAN.clear()
            flow = Loop()
            assert await flow.kickoff_async(store=store) == 3
            assert flow.run_id is not None
            laps = [m for m in await checkpoints(flow.run_id, store=store) if m.step == "lap"]
            assert [m.invocation for m in laps] == [1, 2, 3]
            # at the first lap's checkpoint (label "again"), ask for five laps in all
            new_id = await fork(
                Loop(), flow.run_id, laps[0].seq, store=store, state_changes={"until": 5}
            )
            RAN.clear()
            assert await Loop().resume_async(new_id, store=store) == 5
            assert dict(RAN) == {"lap": 4, "finish": 1}
        finally:
            await store.close()

    asyncio.run(go())


def test_a_fork_whose_edit_the_store_cannot_hold_leaves_nothing(tmp_path: Path) -> None:
    async def go() -> None:
        url = _url(tmp_path)
        run_id, _ = await _run(url)
        at_two = (await checkpoints(run_id, store=url))[2]
        with pytest.raises(StoreError):
            await fork(Four(), run_id, at_two.seq, store=url, state_changes={"b": object()})
        store = await open_store(url)
        try:
            assert [r.run_id for r in await store.list_runs()] == [run_id]
        finally:
            await store.close()

    asyncio.run(go())


class Counter1200(Flow[dict[str, Any]]):
    @start()
    def begin(self) -> int:
        self.state["n"] = 0
        self.state["big"] = "x" * 1000
        return 0

    @router(or_(begin, "again"), max_calls=2000)
    def tick(self) -> str:
        self.state["n"] += 1
        return "again" if self.state["n"] < 1200 else "done"

    @listen("done")
    def end(self) -> int:
        return int(self.state["n"])


def test_long_runs_store_periodic_snapshots_and_state_at_uses_them(tmp_path: Path) -> None:
    from plait.runtime import StateChanged, StateSnapshot

    url = f"sqlite:///{tmp_path}/runs.db"
    flow = Counter1200()
    assert flow.kickoff(store=url) == 1200
    snapshots = [e for e in flow.events if isinstance(e, StateSnapshot)]
    patches = [e for e in flow.events if isinstance(e, StateChanged)]
    assert len(snapshots) == len(patches) // 500 == 2
    assert snapshots[0].state["n"] == 499 and snapshots[0].state["big"] == "x" * 1000
    late = next(e.seq for e in reversed(flow.events) if isinstance(e, StepCompleted))
    assert asyncio.run(state_at(flow.run_id, late, store=url))["n"] == 1200
    mid = snapshots[1].seq + 3
    assert asyncio.run(state_at(flow.run_id, mid, store=url))["n"] in (999, 1000)
    after = snapshots[1].seq + 1  # the completion the snapshot was taken at
    forked = asyncio.run(fork(Counter1200(), flow.run_id, after, store=url))
    assert asyncio.run(state_at(forked, after, store=url)) == {
        **asyncio.run(state_at(flow.run_id, after, store=url)),
        "id": forked,
    }
    with pytest.raises(RunError, match=r"checkpoints are 1, 4, 7, 11, 15, …, .* \(1203 in all\)"):
        asyncio.run(fork(Counter1200(), flow.run_id, snapshots[1].seq, store=url))


class Typed(BaseModel):
    n: int = 0
    label: str = ""


class TypedFlow(Flow[Typed]):
    @start()
    def one(self) -> int:
        self.state.n = 1
        return 1

    @listen(one)
    def two(self) -> int:
        self.state.n += 1
        return self.state.n


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n": "abc"}, r"state key 'n'.*expects int"),
        ({"bogus": 1}, r"no state key 'bogus'.*fields are.*'n'.*'label'"),
    ],
)
def test_a_fork_whose_edit_does_not_fit_the_state_model_stores_nothing(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    async def go() -> None:
        url = _url(tmp_path)
        flow = TypedFlow()
        assert await flow.kickoff_async(store=url) == 2
        run_id = flow.run_id
        first = (await checkpoints(run_id, store=url))[1]
        with pytest.raises(InputError, match=message):
            await fork(TypedFlow(), run_id, first.seq, store=url, state_changes=changes)
        with pytest.raises(InputError, match=message):  # the class checks as its instances
            await fork(TypedFlow, run_id, first.seq, store=url, state_changes=changes)
        store = await open_store(url)
        try:
            assert [r.run_id for r in await store.list_runs()] == [run_id]
        finally:
            await store.close()
        new_id = await fork(TypedFlow(), run_id, first.seq, store=url, state_changes={"n": "7"})
        again = TypedFlow()
        assert await again.resume_async(new_id, store=url) == 8

    asyncio.run(go())
