"""The workloads written with plait. Each ``wN()`` builds what it needs and returns one
timed repetition (:data:`benchmarks._common.Rep`)."""

from __future__ import annotations

import asyncio
import operator
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import (
    CHAIN_STEPS,
    FAN_SLEEP,
    KICKOFFS,
    LOOP_ITERATIONS,
    MAP_CONCURRENCY,
    MAP_ITEMS,
    MAP_SLEEP,
    Rep,
    Sample,
    expect,
    random_dag,
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
