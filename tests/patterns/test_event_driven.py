"""Event-driven steps: ``emit(name, payload)`` fires ``@listen(on_event(name))``."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

import plait
from plait import Flow, RunError, and_, listen, on_event, reducer, start
from plait.runtime import EventEmitted, StepCompleted, StepStarted
from tests.patterns._sync import TIMEOUT


class Found(BaseModel):
    items: list[str] = ["alpha", "beta", "gamma"]
    handled: Annotated[list[str], reducer(operator.add)] = []


class Scanner(Flow[Found]):
    @start()
    async def scan(self) -> int:
        for item in self.state.items:
            self.emit("found", item)
        return len(self.state.items)

    @listen(on_event("found"))
    async def on_found(self, item: str) -> str:
        self.state.handled = [item.upper()]
        return item


def test_each_emitted_event_fires_its_listener_with_the_payload() -> None:
    flow = Scanner()
    flow.kickoff()
    assert sorted(flow.state.handled) == ["ALPHA", "BETA", "GAMMA"]
    emitted = [e for e in flow.events if isinstance(e, EventEmitted)]
    assert [(e.step, e.name, e.payload) for e in emitted] == [
        ("scan", "found", "alpha"),
        ("scan", "found", "beta"),
        ("scan", "found", "gamma"),
    ]
    runs = [
        e.invocation for e in flow.events if isinstance(e, StepStarted) and e.step == "on_found"
    ]
    assert runs == [1, 2, 3]
    outputs = {e.output for e in flow.events if isinstance(e, StepCompleted)}
    assert {"alpha", "beta", "gamma"} <= outputs


def test_inputs_choose_what_is_emitted() -> None:
    flow = Scanner()
    flow.kickoff(inputs={"items": ["x"]})
    assert flow.state.handled == ["X"]


def test_listeners_start_while_the_emitter_is_still_running() -> None:
    async def main() -> list[str]:
        heard = asyncio.Event()
        log: list[str] = []

        class Live(Flow):
            @start()
            async def producer(self) -> None:
                self.emit("ping", 1)
                log.append("emitted")
                await asyncio.wait_for(heard.wait(), TIMEOUT)  # fails unless on_ping ran
                log.append("producer done")

            @listen(on_event("ping"))
            async def on_ping(self, n: int) -> None:
                log.append(f"ping {n}")
                heard.set()

        await Live().kickoff_async()
        return log

    assert asyncio.run(main()) == ["emitted", "ping 1", "producer done"]


def test_module_level_emit_and_context() -> None:
    seen: dict[str, Any] = {}

    class Module(Flow):
        @start()
        async def begin(self) -> None:
            ctx = plait.context()
            seen["step"], seen["run_id"] = ctx.step, ctx.run_id
            plait.emit("tick", {"n": 1})

        @listen(on_event("tick"))
        def on_tick(self, payload: dict[str, int]) -> int:
            seen["listener"] = plait.context().step
            return payload["n"] + 1

    flow = Module()
    assert flow.kickoff() == 2
    assert seen == {"step": "begin", "run_id": flow.run_id, "listener": "on_tick"}


def test_listeners_can_emit_further_events() -> None:
    class Orders(Flow):
        @start()
        async def receive(self) -> None:
            for order in ("o1", "o2"):
                plait.emit("order", order)

        @listen(on_event("order"))
        async def pack(self, order: str) -> None:
            plait.emit("packed", f"{order}:packed")

        @listen(on_event("packed"))
        async def ship(self, parcel: str) -> str:
            return f"{parcel}:shipped"

    flow = Orders()
    flow.kickoff()
    shipped = sorted(
        e.output for e in flow.events if isinstance(e, StepCompleted) and e.step == "ship"
    )
    assert shipped == ["o1:packed:shipped", "o2:packed:shipped"]
    names = [e.name for e in flow.events if isinstance(e, EventEmitted)]
    assert sorted(names) == ["order", "order", "packed", "packed"]


def test_and_of_events_waits_for_both() -> None:
    class Both(Flow):
        @start()
        async def first(self) -> None:
            plait.emit("left", "L")

        @start()
        async def second(self) -> None:
            plait.emit("right", "R")

        @listen(and_(on_event("left"), on_event("right")))
        def joined(self) -> str:
            return "both"

    flow = Both()
    assert flow.kickoff() == "both"
    assert [e.step for e in flow.events if isinstance(e, StepStarted)].count("joined") == 1


def test_an_event_nobody_listens_to_is_only_recorded() -> None:
    class Quiet(Flow):
        @start()
        async def talk(self) -> str:
            plait.emit("nobody", 42)
            return "done"

    flow = Quiet()
    assert flow.kickoff() == "done"
    assert [(e.name, e.payload) for e in flow.events if isinstance(e, EventEmitted)] == [
        ("nobody", 42)
    ]


def test_emit_outside_a_step_says_where_it_works() -> None:
    with pytest.raises(RunError, match="only inside a step"):
        plait.emit("x", 1)


def test_emit_from_a_sync_step_running_in_a_thread() -> None:
    class SyncEmitter(Flow):
        @start()
        def scan(self) -> None:
            for item in ("a", "b"):
                self.emit("found", item)

        @listen(on_event("found"))
        async def on_found(self, item: str) -> str:
            return item * 2

    flow = SyncEmitter()
    flow.kickoff()
    kinds = [(e.type, getattr(e, "step", "")) for e in flow.events]
    emitted = [i for i, k in enumerate(kinds) if k[0] == "EventEmitted"]
    assert len(emitted) == 2
    assert max(emitted) < kinds.index(("StepCompleted", "scan"))  # recorded in emit order
    done = sorted(
        e.output for e in flow.events if isinstance(e, StepCompleted) and e.step == "on_found"
    )
    assert done == ["aa", "bb"]
