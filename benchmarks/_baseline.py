"""The same workloads in plain asyncio: the floor plait's numbers are read against.

Same names and sizes as :mod:`benchmarks._plait`; no plait import here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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

# -- W1 / W1s ------------------------------------------------------------------------


async def _add_one(state: dict[str, Any]) -> None:
    state["counter"] += 1


def _add_one_sync(state: dict[str, Any]) -> None:
    state["counter"] += 1


def w1() -> Rep:
    steps = [_add_one] * CHAIN_STEPS

    async def rep() -> Sample:
        state = {"counter": 0}
        t0 = time.perf_counter()
        for step in steps:
            await step(state)
        dt = time.perf_counter() - t0
        return Sample(dt / CHAIN_STEPS * 1e6, expect(state["counter"], CHAIN_STEPS, "counter"))

    return rep


def w1s() -> Rep:
    steps = [_add_one_sync] * CHAIN_STEPS

    async def rep() -> Sample:
        state = {"counter": 0}
        t0 = time.perf_counter()
        for step in steps:
            await asyncio.to_thread(step, state)
        dt = time.perf_counter() - t0
        return Sample(dt / CHAIN_STEPS * 1e6, expect(state["counter"], CHAIN_STEPS, "counter"))

    return rep


# -- W2 ------------------------------------------------------------------------------


async def _branch() -> int:
    await asyncio.sleep(FAN_SLEEP)
    return 1


def _fan(n: int) -> Rep:
    async def rep() -> Sample:
        t0 = time.perf_counter()
        total = sum(await asyncio.gather(*(_branch() for _ in range(n))))
        dt = time.perf_counter() - t0
        return Sample(dt, expect(total, n, "sum"))

    return rep


def w2a() -> Rep:
    return _fan(100)


def w2b() -> Rep:
    return _fan(1_000)


# -- W3 ------------------------------------------------------------------------------


async def _body(state: dict[str, Any]) -> str:
    state["counter"] += 1
    return "again" if state["counter"] < LOOP_ITERATIONS else "done"


def w3() -> Rep:
    async def rep() -> Sample:
        state = {"counter": 0}
        t0 = time.perf_counter()
        while await _body(state) == "again":
            pass
        dt = time.perf_counter() - t0
        out = state["counter"]
        return Sample(dt / LOOP_ITERATIONS * 1e6, expect(out, LOOP_ITERATIONS, "iterations"))

    return rep


# -- W5 ------------------------------------------------------------------------------


async def _one() -> int:
    return 1


async def _next(x: int) -> int:
    return x + 1


def w5() -> Rep:
    async def rep() -> Sample:
        outs = []
        t0 = time.perf_counter()
        for _ in range(KICKOFFS):
            outs.append(await _next(await _next(await _one())))
        dt = time.perf_counter() - t0
        return Sample(KICKOFFS / dt, expect(sum(outs), 3 * KICKOFFS, "sum of outputs"))

    return rep


# -- W6: Kahn's algorithm, each ready task an asyncio task ---------------------------


async def noop(**deps: Any) -> None:
    return None


async def run_dag(deps: list[tuple[int, ...]], fn: Callable[..., Awaitable[Any]]) -> list[Any]:
    """Run task ``i`` once every task in ``deps[i]`` is done, passing their outputs by
    name; independent tasks run concurrently."""
    loop = asyncio.get_running_loop()
    n = len(deps)
    names = [task_name(i) for i in range(n)]
    children: list[list[int]] = [[] for _ in range(n)]
    for i, ds in enumerate(deps):
        for j in ds:
            children[j].append(i)
    waiting = [len(ds) for ds in deps]
    outputs: list[Any] = [None] * n
    done: asyncio.Future[list[Any]] = loop.create_future()
    left = n

    def launch(i: int) -> None:
        task = loop.create_task(fn(**{names[j]: outputs[j] for j in deps[i]}))
        task.add_done_callback(lambda t: finished(i, t))

    def finished(i: int, task: asyncio.Task[Any]) -> None:
        nonlocal left
        outputs[i] = task.result()
        left -= 1
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                launch(c)
        if left == 0:
            done.set_result(outputs)

    for i in range(n):
        if waiting[i] == 0:
            launch(i)
    return await done


def _dag(n: int) -> Rep:
    deps = random_dag(n)

    async def rep() -> Sample:
        t0 = time.perf_counter()
        outputs = await run_dag(deps, noop)
        dt = time.perf_counter() - t0
        return Sample(dt, expect(len(outputs), n, "tasks completed"))

    return rep


def w6() -> Rep:
    return _dag(10_000)


def w6l() -> Rep:
    return _dag(100_000)


# -- W7 ------------------------------------------------------------------------------


async def _item(x: int) -> int:
    await asyncio.sleep(MAP_SLEEP)
    return x


def w7() -> Rep:
    async def rep() -> Sample:
        sem = asyncio.Semaphore(MAP_CONCURRENCY)

        async def limited(x: int) -> int:
            async with sem:
                return await _item(x)

        t0 = time.perf_counter()
        out = await asyncio.gather(*(limited(x) for x in range(MAP_ITEMS)))
        dt = time.perf_counter() - t0
        return Sample(dt, expect(out, list(range(MAP_ITEMS)), "results"))

    return rep
