"""Crash campaign: a runner process is killed with SIGKILL at seeded random moments, again
and again, against SQLite and PostgreSQL; each kill is followed by a resume in a new
process (which may itself be killed). After every kill, nothing the store showed completed
ran again and — with ``durability="sync"``, the default — no step whose dependant had
started (and so used its output) ran again, whether or not the store showed it completed;
every finished run has exactly one completion per step invocation and map item, and the
result of an uninterrupted run. ``durability="async"`` is held to the weaker property."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from plait.engine import open_store
from plait.runtime import ItemCompleted, RunCompleted, StepCompleted
from tests.engine.conftest import fresh_store_url

ITEMS = 20
LAPS = 30
KILLS = {"sync": 40, "async": 15}
SEEDS = {"sqlite": 20240601, "postgres": 20240602}

FLOW = textwrap.dedent(
    f"""
    import asyncio, os
    from pathlib import Path
    from plait import Flow, and_, context, listen, or_, router, start

    LOG = Path(__file__).parent / "executions.log"

    def ran(name):
        # One write(2) on an O_APPEND file: a line is there whole or not at all.
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (name + "\\n").encode())
        finally:
            os.close(fd)

    def step(name):
        ran(f"{{name}}:{{context().invocation}}")

    class Campaign(Flow):
        @start()
        async def left(self):
            step("left")
            await asyncio.sleep(0.003)
            self.state["left"] = 1
            return 1

        @start()
        async def right(self):
            step("right")
            await asyncio.sleep(0.005)
            self.state["right"] = 2
            return 2

        @listen(and_(left, right))
        async def items(self):
            step("items")

            async def square(x):
                ran(f"item:{{x}}")
                await asyncio.sleep(0.002)
                return x * x

            self.state["squares"] = await self.map(square, range({ITEMS}), concurrency=3)
            return len(self.state["squares"])

        @router(or_(items, "again"))
        async def loop(self):
            step("loop")
            await asyncio.sleep(0.003)
            self.state["laps"] = self.state.get("laps", 0) + 1
            return "again" if self.state["laps"] < {LAPS} else "done"

        @listen("done")
        def finish(self):
            step("finish")
            return {{
                "left": self.state["left"],
                "right": self.state["right"],
                "squares": self.state["squares"],
                "laps": self.state["laps"],
                "total": sum(self.state["squares"]) + self.state["laps"],
            }}
    """
)

RUNNER = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from campaign import Campaign
    flow = Campaign()
    if len(sys.argv) > 4 and sys.argv[4] == "die-at-first-append":
        import os
        import plait.stores
        kind = "SqliteStore" if sys.argv[2].startswith("sqlite") else "PostgresStore"
        async def append(self, run_id, events):
            os._exit(9)  # like kill -9 right after the run's record was created
        setattr(getattr(plait.stores, kind), "append", append)
    durability = sys.argv[5] if len(sys.argv) > 5 else "sync"
    print("go", flush=True)
    if sys.argv[3] == "start":
        result = flow.kickoff(store=sys.argv[2], durability=durability)
    else:
        result = flow.resume(sys.argv[3], store=sys.argv[2], durability=durability)
    state = {k: flow.state[k] for k in ("left", "right", "squares", "laps")}
    print(json.dumps({"run_id": flow.run_id, "result": result, "state": state}), flush=True)
    """
)

EXPECTED_STATE = {
    "left": 1,
    "right": 2,
    "squares": [x * x for x in range(ITEMS)],
    "laps": LAPS,
}
EXPECTED_RESULT = EXPECTED_STATE | {"total": sum(x * x for x in range(ITEMS)) + LAPS}
EVERY_STEP = Counter(
    [("left", 1), ("right", 1), ("items", 1), ("finish", 1)]
    + [("loop", lap) for lap in range(1, LAPS + 1)]
)
"""Each (step, invocation) an uninterrupted run completes, once."""


def consumed(ran: list[str]) -> set[str]:
    """The step invocations whose output a started step in ``ran`` used: once a
    dependant has started, its input must never be produced again."""
    used: set[str] = set()
    for line in ran:
        step, _, invocation = line.partition(":")
        if step == "items":
            used |= {"left:1", "right:1"}
        elif step == "loop":
            lap = int(invocation)
            used.add("items:1" if lap == 1 else f"loop:{lap - 1}")
        elif step == "finish":
            used.add(f"loop:{LAPS}")
    return used


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, URL) of a fresh store, removed afterwards."""
    kind = request.param
    for url in fresh_store_url(kind, tmp_path):
        yield kind, url


@dataclass
class Stored:
    """What the store shows of one run."""

    status: str = ""
    steps: Counter[tuple[str, int]] = field(default_factory=Counter)
    items: Counter[int] = field(default_factory=Counter)
    output: Any = None
    completed: bool = False

    def durable(self) -> set[str]:
        """Executions-log lines that must never appear again."""
        return {f"{s}:{i}" for s, i in self.steps} | {f"item:{i}" for i in self.items}


def _runs(url: str) -> dict[str, str]:
    async def go() -> dict[str, str]:
        st = await open_store(url)
        try:
            return {r.run_id: r.status for r in await st.list_runs(limit=10_000)}
        finally:
            await st.close()

    return asyncio.run(go())


def _stored(url: str, run_id: str) -> Stored:
    async def go() -> Stored:
        st = await open_store(url)
        try:
            events = await st.read(run_id)
            runs = {r.run_id: r.status for r in await st.list_runs(limit=10_000)}
        finally:
            await st.close()
        out = Stored(status=runs.get(run_id, ""))
        for event in events:
            if isinstance(event, StepCompleted):
                out.steps[(event.step, event.invocation)] += 1
            elif isinstance(event, ItemCompleted):
                assert event.step == "items", event
                out.items[event.index] += 1
            elif isinstance(event, RunCompleted):
                out.output = event.output
                out.completed = True
        return out

    return asyncio.run(go())


def _check_completed(stored: Stored, printed: dict[str, Any] | None, where: str) -> None:
    assert stored.status == "completed", where
    # (1) the result (and, when the process lived to print it, the state) of an
    # uninterrupted run
    assert stored.completed and stored.output == EXPECTED_RESULT, where
    if printed is not None:
        assert printed["result"] == EXPECTED_RESULT, where
        assert printed["state"] == EXPECTED_STATE, where
    # (3) nothing lost, nothing recorded twice
    assert stored.steps == EVERY_STEP, where
    assert stored.items == Counter(range(ITEMS)), where


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_runs_killed_at_random_resume_to_the_uninterrupted_result(
    tmp_path: Path, store: tuple[str, str], durability: str
) -> None:
    kind, url = store
    seed = SEEDS[kind] + (durability == "async")
    rng = random.Random(seed)
    (tmp_path / "campaign.py").write_text(FLOW)
    (tmp_path / "runner.py").write_text(RUNNER)
    log = tmp_path / "executions.log"
    log.touch()
    runner = [sys.executable, str(tmp_path / "runner.py"), str(tmp_path), url]

    # One uninterrupted run first: its result is the reference, and its length sets the
    # range the kills are drawn from, so that they land all along a run on any store.
    first = subprocess.Popen(
        [*runner, "start", "-", durability],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "go", first.stderr and first.stderr.read()
    started = time.perf_counter()
    out, err = first.communicate(timeout=120)
    length = time.perf_counter() - started
    assert first.returncode == 0, err
    printed = json.loads(out.strip().splitlines()[-1])
    _check_completed(_stored(url, printed["run_id"]), printed, "the uninterrupted run")

    wanted = KILLS[durability]
    kills, completed_runs, attempts = 0, 1, 0
    hits = Counter[str]()  # what the kills hit
    run_id: str | None = None  # the run being driven to completion
    used: set[str] = set()  # outputs of the current run that a started dependant used
    finished: set[str] = {printed["run_id"]}
    while kills < wanted or run_id is not None:
        attempts += 1
        assert attempts < 20 * wanted, "the campaign does not make progress"
        durable = _stored(url, run_id).durable() if run_id else set()
        offset = log.stat().st_size
        before = set(_runs(url))
        proc = subprocess.Popen(
            [*runner, run_id or "start", "-", durability],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "go", proc.stderr and proc.stderr.read()
        delay = rng.uniform(0.01, length)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            if kills < wanted:
                os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        where = f"seed {seed}, attempt {attempts}, run {run_id}, delay {delay:.3f}s"
        with log.open() as f:
            f.seek(offset)
            ran = f.read().split()

        # (2) nothing the store showed completed before this attempt ran again
        again = sorted(set(ran) & durable)
        assert not again, f"{where}: ran again though durably completed: {again}"
        if durability == "sync":
            # (2') nor anything whose output a dependant had started with, stored or not
            again = sorted(set(ran) & used)
            assert not again, f"{where}: ran again though a dependant had used it: {again}"
        used |= consumed(ran)

        if proc.returncode == -signal.SIGKILL:
            kills += 1
            hits["resume" if run_id else "kickoff"] += 1
            if run_id is None:
                new = set(_runs(url)) - before
                assert len(new) <= 1, where
                run_id = new.pop() if new else None  # killed before the run was stored
                hits["kickoff before the run was stored"] += run_id is None
                if run_id is None:
                    used = set()  # a new run, with nothing of the lost one
            if run_id is not None and _runs(url)[run_id] == "completed":
                # killed after the completion was committed
                _check_completed(_stored(url, run_id), None, where)
                finished.add(run_id)
                completed_runs += 1
                run_id, used = None, set()
            continue

        assert proc.returncode == 0, f"{where}: exit {proc.returncode}\n{err}"
        printed = json.loads(out.strip().splitlines()[-1])
        assert run_id is None or printed["run_id"] == run_id, where
        run_id = printed["run_id"]
        _check_completed(_stored(url, run_id), printed, where)
        assert run_id not in finished, where
        finished.add(run_id)
        completed_runs += 1
        run_id, used = None, set()

    assert kills >= wanted
    assert completed_runs >= 2
    assert set(_runs(url).values()) == {"completed"}
    print(
        f"{kind}/{durability}: {kills} kills {dict(hits)}, {completed_runs} runs completed, "
        f"{attempts} processes, a run takes {length:.2f} s"
    )


def test_a_run_killed_between_its_record_and_its_first_event_resumes(
    tmp_path: Path, store: tuple[str, str]
) -> None:
    """The window the campaign hits now and then, made certain: the process dies after
    the store has the run's record but before RunStarted is in its log. The run shows
    as running; resuming it must finish it like any other killed run."""
    _, url = store
    (tmp_path / "campaign.py").write_text(FLOW)
    (tmp_path / "runner.py").write_text(RUNNER)
    runner = [sys.executable, str(tmp_path / "runner.py"), str(tmp_path), url]
    died = subprocess.run(
        [*runner, "start", "die-at-first-append"], capture_output=True, text=True, timeout=60
    )
    assert died.returncode == 9, died.stderr
    runs = _runs(url)
    assert list(runs.values()) == ["running"]
    (run_id,) = runs
    resumed = subprocess.run([*runner, run_id], capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    printed = json.loads(resumed.stdout.strip().splitlines()[-1])
    _check_completed(_stored(url, run_id), printed, f"run {run_id}")
