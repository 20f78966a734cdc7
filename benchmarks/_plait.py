"""The workloads written with plait. Each ``wN()`` builds what it needs and returns one
timed repetition (:data:`benchmarks._common.Rep`)."""

from __future__ import annotations

import asyncio
import contextlib
import operator
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import (
    BIG_STATE_BYTES,
    CHAIN_STEPS,
    FAN_SLEEP,
    KICKOFFS,
    LOOP_ITERATIONS,
    MAP_CONCURRENCY,
    MAP_ITEMS,
    MAP_SLEEP,
    PG_URL,
    RESUME_LAPS,
    Rep,
    Sample,
    disk_db_dir,
    drop_schema,
    expect,
    random_dag,
    random_schema,
    remove_db,
    shm_db_path,
    task_name,
)
from plait import Flow, Workflow, and_, listen, or_, router, start


def _named(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    fn.__name__ = fn.__qualname__ = name
    return fn


# -- W1 / W1s: a linear chain --------------------------------------------------------


def _chain_step(i: int, sync: bool) -> Callable[..., Any]:
    if sync:

        def step(self: Flow) -> None:
            self.state["counter"] += 1

    else:

        async def step(self: Flow) -> None:  # type: ignore[misc]
            self.state["counter"] += 1

    return _named(step, f"s{i}")


def chain_flow(n: int, *, sync: bool = False) -> type[Flow]:
    """``s0 -> s1 -> ... -> s{n-1}``, each adding 1 to ``state["counter"]``."""
    body: dict[str, Any] = {}
    prev: Callable[..., Any] | None = None
    for i in range(n):
        fn = _chain_step(i, sync)
        body[fn.__name__] = (start() if prev is None else listen(prev))(fn)
        prev = fn
    return type("Chain", (Flow,), body)


def _chain(sync: bool) -> Rep:
    cls = chain_flow(CHAIN_STEPS, sync=sync)

    async def rep() -> Sample:
        flow = cls()
        t0 = time.perf_counter()
        await flow.kickoff_async(inputs={"counter": 0})
        dt = time.perf_counter() - t0
        problem = expect(flow.state["counter"], CHAIN_STEPS, "counter")
        return Sample(dt / CHAIN_STEPS * 1e6, problem)

    return rep


def w1() -> Rep:
    return _chain(sync=False)


def w1s() -> Rep:
    return _chain(sync=True)


# -- W2: fan-out and join ------------------------------------------------------------


def _branch(i: int) -> Callable[..., Any]:
    async def branch(self: Flow) -> int:
        await asyncio.sleep(FAN_SLEEP)
        self.state["total"] = 1  # the contribution; the reducer sums them
        return 1

    return _named(branch, f"b{i}")


def fan_flow(n: int) -> type[Flow]:
    """``begin`` -> ``b0 .. b{n-1}`` (each sleeps) -> ``join`` on ``and_`` of all branches."""

    async def begin(self: Flow) -> None:
        return None

    async def join(self: Flow) -> int:
        return int(self.state["total"])

    body: dict[str, Any] = {
        "reducers": {"total": operator.add},
        "initial_state": {"total": 0},
        "begin": start()(begin),
    }
    names = []
    for i in range(n):
        fn = _branch(i)
        body[fn.__name__] = listen(begin)(fn)
        names.append(fn.__name__)
    body["join"] = listen(and_(*names))(join)
    return type("Fan", (Flow,), body)


def _fan(n: int) -> Rep:
    cls = fan_flow(n)

    async def rep() -> Sample:
        flow = cls()
        t0 = time.perf_counter()
        total = await flow.kickoff_async()
        dt = time.perf_counter() - t0
        return Sample(dt, expect(total, n, "sum of branch outputs (via reducer)"))

    return rep


def w2a() -> Rep:
    return _fan(100)


def w2b() -> Rep:
    return _fan(1_000)


# -- W3: a router loop ---------------------------------------------------------------


class RouterLoop(Flow):
    """``body`` runs until the counter reaches LOOP_ITERATIONS, then ``finish``."""

    max_calls = LOOP_ITERATIONS + 10

    @start()
    async def begin(self) -> None:
        self.state["counter"] = 0

    @router(or_(begin, "again"))
    async def body(self) -> str:
        self.state["counter"] += 1
        if self.state["counter"] < LOOP_ITERATIONS:
            return "again"
        return "done"

    @listen("done")
    async def finish(self) -> int:
        return int(self.state["counter"])


def w3() -> Rep:
    async def rep() -> Sample:
        flow = RouterLoop()
        t0 = time.perf_counter()
        out = await flow.kickoff_async()
        dt = time.perf_counter() - t0
        return Sample(dt / LOOP_ITERATIONS * 1e6, expect(out, LOOP_ITERATIONS, "iterations"))

    return rep


# -- W5: many small runs -------------------------------------------------------------


class ThreeSteps(Flow):
    @start()
    async def one(self) -> int:
        return 1

    @listen(one)
    async def two(self, x: int) -> int:
        return x + 1

    @listen(two)
    async def three(self, x: int) -> int:
        return x + 1


def w5() -> Rep:
    async def rep() -> Sample:
        outs = []
        t0 = time.perf_counter()
        for _ in range(KICKOFFS):
            outs.append(await ThreeSteps().kickoff_async())
        dt = time.perf_counter() - t0
        return Sample(KICKOFFS / dt, expect(sum(outs), 3 * KICKOFFS, "sum of outputs"))

    return rep


# -- W6: a large random DAG ----------------------------------------------------------


async def noop(**deps: Any) -> None:
    return None


def _dag(n: int) -> Rep:
    deps = random_dag(n)

    async def rep() -> Sample:
        t0 = time.perf_counter()
        wf = Workflow("dag")
        for i, ds in enumerate(deps):
            wf.add(noop, name=task_name(i), depends_on=[task_name(j) for j in ds])
        t1 = time.perf_counter()
        await wf.run_async()  # compile + run
        dt = time.perf_counter() - t1
        events: list[Any] = getattr(wf, "events", [])
        done = sum(1 for e in events if type(e).__name__ == "StepCompleted")
        return Sample(dt, expect(done, n, "tasks completed"), {"build_s": t1 - t0})

    return rep


def w6() -> Rep:
    return _dag(10_000)


def w6l() -> Rep:
    return _dag(100_000)


# -- W7: map inside a step -----------------------------------------------------------


async def _item(x: int) -> int:
    await asyncio.sleep(MAP_SLEEP)
    return x


class Mapper(Flow):
    @start()
    async def fan(self) -> list[int]:
        return await self.map(_item, range(MAP_ITEMS), concurrency=MAP_CONCURRENCY)


def w7() -> Rep:
    async def rep() -> Sample:
        flow = Mapper()
        t0 = time.perf_counter()
        out = await flow.kickoff_async()
        dt = time.perf_counter() - t0
        return Sample(dt, expect(out, list(range(MAP_ITEMS)), "results"))

    return rep


# -- W4 / W4d / W4p: W1 with durable checkpoints -------------------------------------
#
# The headline is ``kickoff_async(store=URL)``: opening the store (schema migration on a
# fresh database) and closing it are in the time. ``steady_us_per_step`` (in the notes) is
# the same run with a store opened before the clock starts and closed after it stops.


def _durable_chain(
    fresh: Callable[[str], Any], cleanup: Callable[[], Any], durability: str = "sync"
) -> Rep:
    """``fresh(tag)``: ``(url, open_store)`` for a new, empty database; ``cleanup()``
    removes every database made for the repetition."""
    cls = chain_flow(CHAIN_STEPS)

    async def rep() -> Sample:
        try:
            url, _ = await fresh("url")
            flow = cls()
            t0 = time.perf_counter()
            await flow.kickoff_async(inputs={"counter": 0}, store=url, durability=durability)
            dt = time.perf_counter() - t0
            problem = expect(flow.state["counter"], CHAIN_STEPS, "counter")
            _, opener = await fresh("open")
            store = await opener()
            flow2 = cls()
            t1 = time.perf_counter()
            await flow2.kickoff_async(inputs={"counter": 0}, store=store, durability=durability)
            dt2 = time.perf_counter() - t1
            await store.close()
            problem = problem or expect(flow2.state["counter"], CHAIN_STEPS, "counter")
        finally:
            await cleanup()
        return Sample(
            dt / CHAIN_STEPS * 1e6, problem, {"steady_us_per_step": dt2 / CHAIN_STEPS * 1e6}
        )

    return rep


def _sqlite_chain(on_disk: bool, durability: str = "sync") -> Rep:
    from plait.stores import SqliteStore

    made: list[str] = []
    dirs: list[str] = []

    async def fresh(tag: str) -> tuple[str, Any]:
        if on_disk:
            dirs.append(disk_db_dir())
            path = os.path.join(dirs[-1], f"{tag}.db")
        else:
            path = shm_db_path(tag)
        remove_db(path)
        made.append(path)

        async def opener() -> Any:
            return SqliteStore(path)

        return f"sqlite:///{path}", opener

    async def cleanup() -> None:
        for path in made:
            remove_db(path)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
        made.clear()
        dirs.clear()

    return _durable_chain(fresh, cleanup, durability)


def w4() -> Rep:
    return _sqlite_chain(on_disk=False)


def w4a() -> Rep:
    return _sqlite_chain(on_disk=False, durability="async")


def w4d() -> Rep:
    return _sqlite_chain(on_disk=True)


def w4p() -> Rep:
    return _postgres_chain("sync")


def w4pa() -> Rep:
    return _postgres_chain("async")


def _postgres_chain(durability: str) -> Rep:
    from plait.stores import PostgresStore

    schemas: list[str] = []

    async def fresh(tag: str) -> tuple[str, Any]:
        schemas.append(random_schema())
        schema = schemas[-1]

        async def opener() -> Any:
            return await PostgresStore.connect(PG_URL, schema=schema)

        return f"{PG_URL}?schema={schema}", opener

    async def cleanup() -> None:
        for schema in schemas:
            await drop_schema(schema)
        schemas.clear()

    return _durable_chain(fresh, cleanup, durability)


# -- W8: resume a run with 10,000 completed steps ------------------------------------

RESUME = {"allow": False, "started": 0.0}


class ResumeLoop(Flow):
    """``lap`` loops RESUME_LAPS times, then fails on the next lap unless allowed."""

    max_calls = 2 * RESUME_LAPS + 10

    @start()
    async def begin(self) -> None:
        self.state["laps"] = 0

    @router(or_(begin, "again"), max_calls=2 * RESUME_LAPS + 10)
    async def lap(self) -> str:
        if self.state["laps"] >= RESUME_LAPS:
            if not RESUME["allow"]:
                raise RuntimeError("W8: planned failure after the completed laps")
            if not RESUME["started"]:
                RESUME["started"] = time.perf_counter()
        self.state["laps"] += 1
        return "again" if self.state["laps"] <= RESUME_LAPS else "done"

    @listen("done")
    async def finish(self) -> int:
        return int(self.state["laps"])


def w8() -> Rep:
    async def rep() -> Sample:
        path = shm_db_path("w8")
        remove_db(path)
        url = f"sqlite:///{path}"
        try:
            RESUME.update(allow=False, started=0.0)
            flow = ResumeLoop()
            t_build = time.perf_counter()
            with contextlib.suppress(Exception):  # the planned failure
                await flow.kickoff_async(store=url)
            build_s = time.perf_counter() - t_build
            run_id = flow.run_id
            RESUME["allow"] = True
            again = ResumeLoop()
            t0 = time.perf_counter()
            out = await again.resume_async(run_id, store=url)
            total = time.perf_counter() - t0
            started = RESUME["started"]
            with sqlite3.connect(path) as conn:
                (rows,) = conn.execute("SELECT count(*) FROM events").fetchone()
            conn.close()
        finally:
            remove_db(path)
        problem = expect(out, RESUME_LAPS + 1, "laps") or ("" if started else "lap never ran")
        return Sample(
            started - t0 if started else total,
            problem,
            {"resume_total_s": total, "build_s": build_s, "event_rows": rows},
        )

    return rep


# -- S1: bytes stored per step -------------------------------------------------------


def s1() -> Rep:
    cls = chain_flow(CHAIN_STEPS)

    async def rep() -> Sample:
        path = shm_db_path("s1")
        remove_db(path)
        try:
            flow = cls()
            inputs = {"blob": "x" * BIG_STATE_BYTES, "counter": 0}
            await flow.kickoff_async(inputs=inputs, store=f"sqlite:///{path}")
            problem = expect(flow.state["counter"], CHAIN_STEPS, "counter")
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (body,) = conn.execute("SELECT sum(length(body)) FROM events").fetchone()
            (rows,) = conn.execute("SELECT count(*) FROM events").fetchone()
            conn.close()
            size = os.path.getsize(path)
        finally:
            remove_db(path)
        return Sample(
            size / CHAIN_STEPS,
            problem,
            {"body_bytes_per_step": body / CHAIN_STEPS, "event_rows": rows, "file_bytes": size},
        )

    return rep


# -- W9: model calls through the agent layer (see benchmarks/_llm.py) -----------------


def w9() -> Rep:
    from benchmarks._llm import w9_plait

    return w9_plait()


def w9o() -> Rep:
    from benchmarks._llm import w9o_plait

    return w9o_plait()


def w9h() -> Rep:
    from benchmarks._llm import w9h_plait

    return w9h_plait()


# -- W1m, W3m, W5m: the way CrewAI users write flows (benchmarks/_plait_models.py) -------


def w1m() -> Rep:
    from benchmarks._plait_models import w1m as make

    return make()


def w3m() -> Rep:
    from benchmarks._plait_models import w3m as make

    return make()


def w5m() -> Rep:
    from benchmarks._plait_models import w5m as make

    return make()
