"""Resume: a run that failed or whose process died goes on from its stored log, and
steps that completed never run again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from plait import Flow, RunBusyError, RunError, StoreError, listen, start
from plait.engine import open_store
from plait.runtime import ItemCompleted, RunResumed, StepCompleted

FLOW = textwrap.dedent(
    """
    import asyncio, os
    from pathlib import Path
    from plait import Flow, and_, listen, or_, router, start

    HERE = Path(__file__).parent
    LOG = HERE / "ran.log"
    CRASH = HERE / "crash-at"

    def ran(name):
        with LOG.open("a") as f:
            f.write(name + "\\n")

    def maybe_crash(point):
        if CRASH.exists() and CRASH.read_text() == point:
            CRASH.unlink()
            os._exit(9)  # like kill -9: no cleanup, no flush beyond what is committed

    class Crashy(Flow):
        @start()
        async def left(self):
            ran("left")
            self.state["left"] = 1
            return 1

        @start()
        async def right(self):
            ran("right")
            await asyncio.sleep(0.01)
            self.state["right"] = 2
            return 2

        @listen(and_(left, right))
        async def items(self):
            ran("items")

            async def square(x):
                ran(f"item{x}")
                maybe_crash(f"item{x}")
                return x * x

            self.state["squares"] = await self.map(square, range(6), concurrency=1)
            return len(self.state["squares"])

        @router(or_(items, "again"))
        def loop(self):
            ran("loop")
            self.state["laps"] = self.state.get("laps", 0) + 1
            maybe_crash(f"loop{self.state['laps']}")
            return "again" if self.state["laps"] < 3 else "done"

        @listen("done")
        def finish(self):
            ran("finish")
            return sum(self.state["squares"]) + self.state["laps"]
    """
)

RUNNER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from crashy import Crashy
    Crashy().kickoff(store=sys.argv[2])
    """
)


def _setup(tmp_path: Path, crash_at: str) -> Path:
    (tmp_path / "crashy.py").write_text(FLOW)
    (tmp_path / "runner.py").write_text(RUNNER)
    (tmp_path / "crash-at").write_text(crash_at)
    return tmp_path / "ran.log"


def _crash(tmp_path: Path, url: str) -> tuple[str, Counter[str]]:
    """Run the flow in a process that dies mid-run; return the run id and how many times
    the store shows each step (and map item) completed."""
    done = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 9, done.stderr

    async def stored() -> tuple[str, Counter[str]]:
        store = await open_store(url)
        try:
            runs = await store.list_runs()
            assert len(runs) == 1 and runs[0].status == "running"
            events = await store.read(runs[0].run_id)
        finally:
            await store.close()
        completed: Counter[str] = Counter()
        for event in events:
            if isinstance(event, StepCompleted):
                completed[event.step] += 1
            elif isinstance(event, ItemCompleted):
                completed[f"item{event.index}"] += 1
        return runs[0].run_id, completed

    return asyncio.run(stored())


def _resume(tmp_path: Path, url: str, run_id: str) -> Any:
    sys.path.insert(0, str(tmp_path))
    try:
        sys.modules.pop("crashy", None)
        from crashy import Crashy  # type: ignore[import-not-found]

        flow = Crashy()
        return flow, flow.resume(run_id, store=url)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("crashy", None)


EVERY_RUN = Counter(
    {"left": 1, "right": 1, "items": 1, "loop": 3, "finish": 1} | {f"item{i}": 1 for i in range(6)}
)
"""How often each step (and map item) runs in an uninterrupted run."""


@pytest.mark.parametrize("crash_at", ["item3", "loop2"])
def test_a_killed_run_resumes_without_running_completed_steps(
    tmp_path: Path, crash_at: str, store_url: str
) -> None:
    url = store_url
    log = _setup(tmp_path, crash_at)
    run_id, stored = _crash(tmp_path, url)
    before = log.read_text().split()
    flow, result = _resume(tmp_path, url, run_id)
    after = Counter(log.read_text().split()[len(before) :])

    assert result == sum(x * x for x in range(6)) + 3  # what an uninterrupted run returns
    assert flow.state["squares"] == [0, 1, 4, 9, 16, 25] and flow.state["laps"] == 3
    # Exactly what the store did not show completed runs again: nothing it shows runs twice.
    assert after == EVERY_RUN - stored
    assert stored["left"] == stored["right"] == 1  # done long before the crash
    if crash_at == "item3":
        assert stored["item0"] == stored["item1"] == stored["item2"] == 1
    assert any(isinstance(e, RunResumed) for e in flow.events)


def test_a_failed_run_resumes_from_the_failed_step(tmp_path: Path) -> None:
    ran: list[str] = []
    broken = {"yes": True}

    class F(Flow):
        @start()
        def first(self) -> int:
            ran.append("first")
            return 1

        @listen(first)
        def second(self, x: int) -> int:
            ran.append("second")
            if broken["yes"]:
                raise ValueError("not yet")
            return x + 1

    url = f"sqlite:///{tmp_path}/runs.db"
    flow = F()
    with pytest.raises(ValueError, match="not yet"):
        flow.kickoff(store=url)
    broken["yes"] = False
    assert F().resume(flow.run_id, store=url) == 2
    assert ran == ["first", "second", "second"]


def test_resume_refuses_unknown_and_completed_runs(tmp_path: Path) -> None:
    class F(Flow):
        @start()
        def only(self) -> str:
            return "done"

    url = f"sqlite:///{tmp_path}/runs.db"
    with pytest.raises(RunError, match="no run nope"):
        F().resume("nope", store=url)
    flow = F()
    flow.kickoff(store=url)
    with pytest.raises(RunError, match="already completed"):
        F().resume(flow.run_id, store=url)


def test_resume_refuses_a_run_of_another_flow(tmp_path: Path) -> None:
    class A(Flow):
        @start()
        def go(self) -> None:
            raise ValueError("stop")

    class B(Flow):
        @start()
        def go(self) -> None:
            return None

    url = f"sqlite:///{tmp_path}/runs.db"
    a = A()
    with pytest.raises(ValueError, match="stop"):
        a.kickoff(store=url)
    with pytest.raises(RunError, match="run of 'A'"):
        B().resume(a.run_id, store=url)
    assert os.path.exists(tmp_path / "runs.db")


def test_of_two_concurrent_resumes_exactly_one_wins(tmp_path: Path) -> None:
    gate = {"open": False}
    ran: list[str] = []

    class F(Flow):
        @start()
        def first(self) -> int:
            return 1

        @listen(first)
        async def second(self, x: int) -> int:
            if not gate["open"]:
                raise ValueError("closed")
            ran.append("second")
            await asyncio.sleep(0.01)
            return x + 1

    url = f"sqlite:///{tmp_path}/runs.db"
    flow = F()
    with pytest.raises(ValueError, match="closed"):
        flow.kickoff(store=url)
    gate["open"] = True

    async def both() -> list[Any]:
        return await asyncio.gather(
            F().resume_async(flow.run_id, store=url),
            F().resume_async(flow.run_id, store=url),
            return_exceptions=True,
        )

    outcomes = asyncio.run(both())
    # The second finds the run's lease held by the first (the lease is taken first).
    assert sorted(type(o).__name__ for o in outcomes) == ["RunBusyError", "int"]
    busy = next(o for o in outcomes if isinstance(o, RunBusyError))
    assert "is being run by" in str(busy)
    assert ran == ["second"]


def test_an_output_the_store_cannot_hold_fails_the_run_naming_it(tmp_path: Path) -> None:
    class F(Flow):
        @start()
        def first(self) -> object:
            return {"handle": object()}

        @listen(first)
        def second(self, x: object) -> str:
            return "went on"

    async def go() -> None:
        await asyncio.wait_for(F().kickoff_async(store=f"sqlite:///{tmp_path}/r.db"), 10)

    with pytest.raises(StoreError, match=r"output\.handle"):
        asyncio.run(go())


def _flow_renamed_after_a_deploy() -> tuple[type[Flow], type[Flow]]:
    class F(Flow):
        @start()
        def first(self) -> int:
            return 1

        @listen(first)
        def summarise(self, x: int) -> int:
            raise ValueError("not yet")

    old = F

    class F(Flow):  # type: ignore[no-redef]
        @start()
        def first(self) -> int:
            return 1

        @listen(first)
        def summarize(self, x: int) -> int:
            return x + 1

    return old, F


def test_resume_refuses_a_run_whose_steps_the_plan_no_longer_has(tmp_path: Path) -> None:
    old, new = _flow_renamed_after_a_deploy()
    url = f"sqlite:///{tmp_path}/runs.db"
    flow = old()
    with pytest.raises(ValueError, match="not yet"):
        flow.kickoff(store=url)

    async def stored() -> tuple[str, int]:
        store = await open_store(url)
        try:
            record = await store.get_run(flow.run_id)
            assert record is not None
            return record.status, len(await store.read(flow.run_id))
        finally:
            await store.close()

    before = asyncio.run(stored())
    with pytest.raises(RunError, match="'summarise'") as raised:
        new().resume(flow.run_id, store=url)
    message = str(raised.value)
    assert "plait runs fork" in message and "--from" in message
    assert asyncio.run(stored()) == before
