"""W1m, W3m, W5m: W1, W3 and W5 the way CrewAI users write flows — a pydantic model as
the state and a new Flow instance for every run. In a module of their own so that the
other workloads' processes never import pydantic (M measures their memory)."""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from benchmarks._common import CHAIN_STEPS, KICKOFFS, LOOP_ITERATIONS, Rep, Sample, expect
from benchmarks._plait import _named
from plait import Flow, listen, or_, router, start


class Counter(BaseModel):
    counter: int = 0


def _model_chain_step(i: int) -> Callable[..., Any]:
    async def step(self: Flow[Counter]) -> None:
        self.state.counter += 1

    return _named(step, f"s{i}")


def model_chain_flow(n: int) -> type[Flow[Counter]]:
    """W1's chain with a ``Counter`` model as the state."""
    body: dict[str, Any] = {}
    prev: Callable[..., Any] | None = None
    for i in range(n):
        fn = _model_chain_step(i)
        body[fn.__name__] = (start() if prev is None else listen(prev))(fn)
        prev = fn
    return types.new_class("ModelChain", (Flow[Counter],), {}, lambda ns: ns.update(body))


def w1m() -> Rep:
    cls = model_chain_flow(CHAIN_STEPS)

    async def rep() -> Sample:
        t0 = time.perf_counter()
        flow = cls()
        await flow.kickoff_async()
        dt = time.perf_counter() - t0
        problem = expect(flow.state.counter, CHAIN_STEPS, "counter")
        return Sample(dt / CHAIN_STEPS * 1e6, problem)

    return rep


class ModelRouterLoop(Flow[Counter]):
    """W3's loop with a ``Counter`` model as the state."""

    max_calls = LOOP_ITERATIONS + 10

    @start()
    async def begin(self) -> None:
        self.state.counter = 0

    @router(or_(begin, "again"))
    async def body(self) -> str:
        self.state.counter += 1
        return "again" if self.state.counter < LOOP_ITERATIONS else "done"

    @listen("done")
    async def finish(self) -> int:
        return self.state.counter


def w3m() -> Rep:
    async def rep() -> Sample:
        t0 = time.perf_counter()
        out = await ModelRouterLoop().kickoff_async()
        dt = time.perf_counter() - t0
        return Sample(dt / LOOP_ITERATIONS * 1e6, expect(out, LOOP_ITERATIONS, "iterations"))

    return rep


class ModelThreeSteps(Flow[Counter]):
    @start()
    async def one(self) -> int:
        self.state.counter = 1
        return 1

    @listen(one)
    async def two(self, x: int) -> int:
        self.state.counter += 1
        return x + 1

    @listen(two)
    async def three(self, x: int) -> int:
        self.state.counter += 1
        return x + 1


def w5m() -> Rep:
    async def rep() -> Sample:
        outs = []
        t0 = time.perf_counter()
        for _ in range(KICKOFFS):
            outs.append(await ModelThreeSteps().kickoff_async())
        dt = time.perf_counter() - t0
        return Sample(KICKOFFS / dt, expect(sum(outs), 3 * KICKOFFS, "sum of outputs"))

    return rep
