"""One definition, many runs at once: a module-level flow or workflow that a web handler
reuses. Each run has its own state and id; ``self.state`` in a step is its run's."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from plait import Flow, FlowBuilder, RunError, Workflow, listen, start

GUARD = 10.0  # seconds: a run that never meets its partner fails instead of hanging


class Both:
    """Holds each arrival until ``n`` have arrived: proof the runs overlapped."""

    def __init__(self, n: int = 2) -> None:
        self.n = n
        self.arrived = 0
        self.all_here = asyncio.Event()

    async def meet(self) -> None:
        self.arrived += 1
        if self.arrived >= self.n:
            self.all_here.set()
        async with asyncio.timeout(GUARD):
            await self.all_here.wait()


class Topic(BaseModel):
    topic: str = ""
    seen: str = ""
    run: str = ""


def test_one_flow_instance_runs_twice_at_once_with_independent_state() -> None:
    both = Both()
    threads_met = threading.Barrier(2, timeout=GUARD)

    class Research(Flow[Topic]):
        @start()
        async def begin(self) -> str:
            await both.meet()  # the other run is inside its step too
            self.state.run = self.run_id
            return self.state.topic

        @listen(begin)
        def write(self, topic: str) -> str:  # a sync step, on a worker thread
            threads_met.wait()
            self.state.seen = f"{topic} in {self.run_id}"
            return f"{self.state.topic}:{topic}"

    flow = Research()

    async def main() -> list[Any]:
        return await asyncio.gather(
            flow.akickoff({"topic": "bees"}), flow.akickoff({"topic": "ants"})
        )

    assert asyncio.run(main()) == ["bees:bees", "ants:ants"]
    assert flow.state.topic in ("bees", "ants")  # the run that ended last
    assert flow.state.seen == f"{flow.state.topic} in {flow.state.run}"
    assert flow.run_id == flow.state.run == flow.state.id
    assert {e.run_id for e in flow.events} == {flow.run_id}


def test_after_kickoff_the_flow_shows_the_last_runs_final_state() -> None:
    class Count(Flow):
        @start()
        def add(self) -> int:
            self.state["n"] = self.state.get("n", 0) + 1
            return int(self.state["n"])

    flow = Count()
    assert flow.kickoff({"n": 1}) == 2
    first = flow.run_id
    assert flow.state["n"] == 2 and flow.state["id"] == first
    assert flow.kickoff({"n": 10}) == 11
    assert flow.state["n"] == 11 and flow.run_id != first


def test_a_built_flow_serves_concurrent_runs() -> None:
    both = Both(3)

    async def begin(flow: Flow[Any]) -> Any:
        await both.meet()
        flow.state["doubled"] = flow.state["x"] * 2
        return flow.state["doubled"]

    flow = FlowBuilder("shared").start("begin", begin).build()

    async def main() -> list[Any]:
        return await asyncio.gather(*(flow.kickoff_async({"x": x}) for x in (1, 2, 3)))

    assert asyncio.run(main()) == [2, 4, 6]


def test_one_workflow_runs_twice_at_once() -> None:
    both = Both()
    wf = Workflow("double")

    @wf.task()
    async def read(x: int) -> int:
        await both.meet()
        return x

    @wf.task(depends_on=[read])
    def double(read: int) -> int:
        return read * 2

    async def main() -> list[Any]:
        return await asyncio.gather(wf.run_async({"x": 1}), wf.run_async({"x": 5}))

    assert asyncio.run(main()) == [2, 10]


def test_a_step_running_another_flow_keeps_its_own_state() -> None:
    class Inner(Flow):
        @start()
        def go(self) -> str:
            self.state["where"] = "inner"
            return "inner done"

    class Outer(Flow):
        @start()
        async def go(self) -> str:
            self.state["where"] = "outer"
            out = await Inner().kickoff_async()
            return f"{out}, {self.state['where']}"

    assert Outer().kickoff() == "inner done, outer"


def test_replacing_the_state_is_refused_only_inside_the_run() -> None:
    class Replacer(Flow):
        @start()
        def go(self) -> None:
            self.state = {"new": True}

    flow = Replacer()
    with pytest.raises(RunError, match=r"do not replace self\.state"):
        flow.kickoff()
    flow.state = {"topic": "set between runs"}  # outside a run: the next run's start
    assert flow.state["topic"] == "set between runs"


def test_a_thread_a_step_starts_never_reads_another_concurrent_runs_state() -> None:
    """Plain threads do not inherit the run's context: with two runs of one instance in
    flight, self.state there is ambiguous and refused (never the other run's state); a
    thread started with the step's context sees its own run."""
    import contextvars

    seen: dict[str, Any] = {}
    both_in = threading.Barrier(2, timeout=60)
    both_read = threading.Barrier(2, timeout=60)

    class Job(Flow):
        @start()
        def work(self) -> Any:
            both_in.wait()  # both runs are in flight

            def plain() -> None:
                try:
                    seen[self.state["name"]] = "read"
                except RunError as exc:
                    seen.setdefault("refused", []).append(str(exc))

            def inheriting() -> None:
                self.state["by_thread"] = self.state["name"]

            t = threading.Thread(target=plain)
            t.start()
            t.join()
            both_read.wait()  # neither run ends before both plain threads have read
            ctx = contextvars.copy_context()
            t = threading.Thread(target=ctx.run, args=(inheriting,))
            t.start()
            t.join()
            return dict(self.state)

    async def go() -> list[Any]:
        f = Job()
        return await asyncio.gather(
            f.akickoff(inputs={"name": "alice"}), f.akickoff(inputs={"name": "bob"})
        )

    alice, bob = asyncio.run(go())
    assert (alice["by_thread"], bob["by_thread"]) == ("alice", "bob")
    assert "alice" not in seen and "bob" not in seen
    assert len(seen["refused"]) == 2 and "2 runs of this instance" in seen["refused"][0]


def test_a_thread_of_the_one_run_in_flight_sees_that_run_after_another_ended() -> None:
    """Run a ends while run b goes on: a plain thread b's step starts reads b's state,
    not the state of a (the run that ended last)."""
    a_done: asyncio.Event | None = None
    seen: list[Any] = []

    class Job(Flow):
        @start()
        async def work(self) -> Any:
            if self.state["name"] == "b":
                assert a_done is not None
                await a_done.wait()
                thread = threading.Thread(target=lambda: seen.append(self.state["name"]))
                thread.start()
                thread.join()
            return self.state["name"]

    async def go() -> None:
        nonlocal a_done
        a_done = asyncio.Event()
        f = Job()
        b = asyncio.ensure_future(f.akickoff(inputs={"name": "b"}))
        await asyncio.sleep(0)
        assert await f.akickoff(inputs={"name": "a"}) == "a"
        a_done.set()
        assert await b == "b"

    asyncio.run(go())
    assert seen == ["b"]
