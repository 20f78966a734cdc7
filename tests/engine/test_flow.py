"""Flow semantics, CrewAI style: start, listen, router, or_, and_, threads, state, loops."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, ClassVar, Literal

import pytest
from pydantic import BaseModel

from plait import (
    Flow,
    PlanError,
    RunError,
    StepCompleted,
    Workflow,
    and_,
    listen,
    on_event,
    or_,
    router,
    start,
)
from tests.engine._helpers import HANG_GUARD, meet, of_type, thread_barrier


def outputs(flow: Flow[Any], step: str) -> list[Any]:
    return [e.output for e in of_type(flow.events, "StepCompleted") if e.step == step]


def test_async_start_steps_run_concurrently() -> None:
    barrier = asyncio.Barrier(3)

    class Three(Flow):
        @start()
        async def a(self) -> str:
            await meet(barrier)
            return "a"

        @start()
        async def b(self) -> str:
            await meet(barrier)
            return "b"

        @start()
        async def c(self) -> str:
            await meet(barrier)
            return "c"

    flow = Three()
    flow.kickoff()
    assert sorted(e.step for e in of_type(flow.events, "StepCompleted")) == ["a", "b", "c"]


def test_sync_start_steps_run_concurrently_in_threads() -> None:
    barrier = thread_barrier(2)
    threads: dict[str, str] = {}

    class Two(Flow):
        @start()
        def a(self) -> None:
            threads["a"] = threading.current_thread().name
            barrier.wait()

        @start()
        def b(self) -> None:
            threads["b"] = threading.current_thread().name
            barrier.wait()

    Two().kickoff()
    assert threads["a"] != threads["b"]
    assert threading.main_thread().name not in threads.values()


def test_a_blocking_sync_step_does_not_stall_an_async_branch() -> None:
    started = threading.Event()
    ticked = threading.Event()
    seen: dict[str, Any] = {}

    class Mixed(Flow):
        @start()
        def blocking(self) -> dict[str, Any]:
            begin = time.time()
            started.set()
            # Blocks this thread until the async branch has run: it can only run if the
            # event loop is free while this step blocks.
            released = ticked.wait(HANG_GUARD)
            time.sleep(0.01)
            return {"begin": begin, "end": time.time(), "released": released}

        @start()
        async def ticking(self) -> list[float]:
            seen["thread"] = threading.current_thread()
            await asyncio.to_thread(started.wait, HANG_GUARD)
            ticks = []
            for _ in range(3):
                ticks.append(time.time())
                await asyncio.sleep(0)
            ticked.set()
            return ticks

    flow = Mixed()
    flow.kickoff()
    (sync,) = outputs(flow, "blocking")
    (ticks,) = outputs(flow, "ticking")
    assert sync["released"]
    assert all(sync["begin"] <= t <= sync["end"] for t in ticks)  # they overlapped
    assert seen["thread"] is threading.main_thread()  # async steps run on the loop


def test_listen_by_function_or_name_with_or_without_the_output() -> None:
    class Chain(Flow):
        @start()
        def first(self) -> int:
            return 2

        @listen(first)
        def takes_it(self, value: int) -> int:
            return value * 10

        @listen("first")
        def ignores_it(self) -> str:
            return "called"

        @listen(takes_it)
        async def last(self, value: int) -> int:
            return value + 1

    flow = Chain()
    flow.kickoff()
    assert outputs(flow, "takes_it") == [20]
    assert outputs(flow, "ignores_it") == ["called"]
    assert outputs(flow, "last") == [21]


def test_the_result_is_the_output_of_the_last_step_that_completed() -> None:
    class Line(Flow):
        @start()
        def a(self) -> str:
            return "a"

        @listen(a)
        def b(self, x: str) -> str:
            return x + "b"

        @listen(b)
        async def c(self, x: str) -> str:
            return x + "c"

    assert Line().kickoff() == "abc"

    class Fork(Flow):
        @start()
        def a(self) -> str:
            return "a"

        @start()
        async def b(self) -> str:
            await asyncio.sleep(0.001)
            return "b"

    flow = Fork()
    result = flow.kickoff()
    assert result == of_type(flow.events, "StepCompleted")[-1].output
    assert of_type(flow.events, "RunCompleted")[0].output == result


def test_a_router_picks_the_branch_by_label() -> None:
    class Triage(Flow):
        @start()
        def receive(self) -> int:
            return self.state["priority"]

        @router(receive)
        def route(self, priority: int) -> Literal["urgent", "later"]:
            return "urgent" if priority > 5 else "later"

        @listen("urgent")
        def page(self, label: str) -> str:
            return f"paged ({label})"

        @listen("later")
        def queue(self) -> str:
            return "queued"

    flow = Triage()
    assert flow.kickoff({"priority": 9}) == "paged (urgent)"
    assert [e.label for e in of_type(flow.events, "RouteTaken")] == ["urgent"]
    assert outputs(flow, "queue") == []
    assert Triage().kickoff({"priority": 1}) == "queued"


def test_listening_to_the_router_itself_receives_its_label() -> None:
    class R(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def r(self) -> Literal["go"]:
            return "go"

        @listen("go")
        def went(self) -> None: ...

        @listen(r)
        def after_router(self, value: str) -> str:
            return f"router said {value}"

    flow = R()
    flow.kickoff()
    assert outputs(flow, "after_router") == ["router said go"]


def test_or_fires_once_for_the_first_of_its_steps() -> None:
    """CrewAI: or_(a, b) runs its listener once, with whichever completed first."""

    class Either(Flow):
        @start()
        def a(self) -> str:
            return "A"

        @start()
        async def b(self) -> str:
            return "B"

        @listen(or_(a, b))
        def either(self, value: str) -> str:
            return value.lower()

    flow = Either()
    flow.kickoff()
    (first,) = outputs(flow, "either")
    assert first in ("a", "b")


def test_and_fires_once_when_all_completed() -> None:
    class Both(Flow):
        @start()
        def a(self) -> str:
            return "A"

        @start()
        async def b(self) -> str:
            return "B"

        @start()
        async def c(self) -> str:
            return "C"

        @listen(and_(a, b, c))
        def joined(self) -> str:
            return "joined"

    flow = Both()
    assert flow.kickoff() == "joined"
    assert outputs(flow, "joined") == ["joined"]
    joined_at = next(e.seq for e in flow.events if getattr(e, "step", "") == "joined")
    for name in "abc":
        done = next(e.seq for e in of_type(flow.events, "StepCompleted") if e.step == name)
        assert done < joined_at


def test_and_counts_since_it_last_fired() -> None:
    """Events x, x, y, x, y: and_(x, y) fires after the first y and after the second."""

    class Pairs(Flow):
        @start()
        async def emitter(self) -> None:
            for name in ["x", "x", "y", "x", "y"]:
                self.emit(name, name)
                await asyncio.sleep(0)

        @listen(and_(on_event("x"), on_event("y")))
        def pair(self, payload: str) -> str:
            return payload

    flow = Pairs()
    flow.kickoff()
    assert outputs(flow, "pair") == ["y", "y"]


def test_and_resets_in_a_loop() -> None:
    class Rounds(Flow):
        @start()
        def begin(self) -> None:
            self.state["round"] = 0

        @listen(or_(begin, "again"))
        def left(self) -> str:
            return "L"

        @listen(or_(begin, "again"))
        async def right(self) -> str:
            return "R"

        @listen(and_(left, right))
        def join(self) -> None:
            self.state["round"] += 1

        @router(join)
        def check(self) -> str:
            if self.state["round"] < 3:
                return "again"
            return "done"

        @listen("done")
        def finish(self) -> int:
            return self.state["round"]

    flow = Rounds()
    assert flow.kickoff() == 3
    assert len(outputs(flow, "left")) == 3
    assert len(outputs(flow, "right")) == 3
    assert len(outputs(flow, "join")) == 3


def _nested_flow(order: list[str]) -> type[Flow[Any]]:
    """Start steps a, b, c complete one after another in ``order`` (each waits for its gate,
    opened when the one before it completed); x listens to or_(a, and_(b, c))."""
    gates = {name: asyncio.Event() for name in "abc"}

    def open_after(done: str) -> None:
        nxt = order.index(done) + 1
        if nxt < len(order):
            gates[order[nxt]].set()

    class Nested(Flow):
        @start()
        async def a(self) -> str:
            await gates["a"].wait()
            return "a"

        @start()
        async def b(self) -> str:
            await gates["b"].wait()
            return "b"

        @start()
        async def c(self) -> str:
            await gates["c"].wait()
            return "c"

        @start()
        async def conductor(self) -> None:
            gates[order[0]].set()

        @listen("a")
        async def after_a(self) -> None:
            open_after("a")

        @listen("b")
        async def after_b(self) -> None:
            open_after("b")

        @listen("c")
        async def after_c(self) -> None:
            open_after("c")

        @listen(or_(a, and_(b, c)))
        def x(self, payload: str) -> str:
            return payload

    return Nested


def test_nested_or_of_step_and_join_fires_once() -> None:
    """CrewAI: an or_ fires for its first branch only (a), not again for and_(b, c)."""
    flow = _nested_flow(["a", "b", "c"])()
    flow.kickoff()
    assert outputs(flow, "x") == ["a"]


def test_nested_or_forgets_join_progress_when_it_fires() -> None:
    """b, then a, then c: a fires x, which forgets b; c alone does not fire it."""
    flow = _nested_flow(["b", "a", "c"])()
    flow.kickoff()
    assert outputs(flow, "x") == ["a"]
    flow = _nested_flow(["b", "c", "a"])()
    flow.kickoff()
    assert outputs(flow, "x") == ["c"]  # and_(b, c) first


def test_dict_state_is_the_runs_and_carries_the_run_id() -> None:
    class Counter(Flow):
        @start()
        def one(self) -> None:
            self.state["count"] = self.state.get("count", 0) + 1

        @listen(one)
        def two(self) -> None:
            self.state["count"] += 1

    flow = Counter()
    flow.kickoff({"count": 10})
    assert flow.state["count"] == 12
    assert flow.state["id"] == flow.run_id
    assert len(flow.run_id) == 36  # a UUID, as CrewAI's state ids
    first_id = flow.run_id
    flow.kickoff()
    assert flow.state["count"] == 2  # each run starts from fresh state
    assert flow.run_id != first_id


class Article(BaseModel):
    id: str = ""
    topic: str = "plait"
    words: list[str] = []


def test_model_state_is_an_instance_of_the_model() -> None:
    class Writer(Flow[Article]):
        @start()
        def draft(self) -> None:
            self.state.words = ["hello"]

        @listen(draft)
        def extend(self) -> str:
            self.state.words.append(self.state.topic)
            return " ".join(self.state.words)

    flow = Writer()
    assert flow.kickoff({"topic": "flows"}) == "hello flows"
    assert isinstance(flow.state, Article)
    assert flow.state.words == ["hello", "flows"]
    assert flow.state.id == flow.run_id


def test_initial_state_from_constructor_and_class() -> None:
    class Seeded(Flow):
        initial_state: ClassVar[dict[str, str]] = {"greeting": "hi"}

        @start()
        def go(self) -> str:
            return f"{self.state['greeting']} {self.state.get('name', '?')}"

    assert Seeded().kickoff() == "hi ?"
    assert Seeded().kickoff({"name": "ann"}) == "hi ann"
    # The constructor's initial_state replaces the class's, as in CrewAI.
    seeded = Seeded(initial_state={"greeting": "hello", "name": "ann"})
    assert seeded.kickoff() == "hello ann"
    assert seeded.kickoff({"greeting": "yo"}) == "yo ann"


def test_kickoff_async_runs_inside_an_event_loop() -> None:
    class Hello(Flow):
        @start()
        async def greet(self) -> str:
            return "hello"

    async def main() -> tuple[str, str]:
        flow = Hello()
        out = await flow.kickoff_async()
        return out, flow.run_id

    out, run_id = asyncio.run(main())
    assert out == "hello" and run_id


def test_kickoff_inside_an_event_loop_runs_the_flow_on_a_worker_thread() -> None:
    class Hello(Flow):
        @start()
        def greet(self) -> str:
            return "hello"

    async def main() -> str:
        return Hello().kickoff()  # blocks this loop until the run ends, as in CrewAI

    assert asyncio.run(main()) == "hello"


def test_one_instance_serves_two_runs_at_once() -> None:
    gate = asyncio.Event()
    running = asyncio.Event()

    class Slow(Flow):
        @start()
        async def wait(self) -> str:
            running.set()
            await gate.wait()
            return "done"

    async def main() -> None:
        flow = Slow()
        first = asyncio.ensure_future(flow.kickoff_async())
        await running.wait()
        second = asyncio.ensure_future(flow.kickoff_async())  # no "already running"
        await asyncio.sleep(0)
        gate.set()
        assert await asyncio.gather(first, second) == ["done", "done"]
        running.clear()
        assert await flow.kickoff_async() == "done"

    asyncio.run(main())


def test_state_cannot_be_replaced_while_running() -> None:
    class Replacer(Flow):
        @start()
        def go(self) -> None:
            self.state = {"new": True}

    with pytest.raises(RunError) as info:
        Replacer().kickoff()
    assert "self.state" in str(info.value.__cause__ or info.value)


def test_a_loop_through_a_router_that_listens_to_its_own_label() -> None:
    class Countdown(Flow):
        @start()
        def begin(self) -> None:
            self.state["n"] = self.state.get("start", 3)

        @router(or_(begin, "again"))
        def tick(self) -> str:
            self.state["n"] -= 1
            if self.state["n"] > 0:
                return "again"
            return "done"

        @listen("done")
        def finish(self) -> str:
            return "liftoff"

    flow = Countdown()
    assert flow.kickoff({"start": 4}) == "liftoff"
    assert [e.label for e in of_type(flow.events, "RouteTaken")] == ["again"] * 3 + ["done"]
    assert [e.invocation for e in of_type(flow.events, "StepStarted") if e.step == "tick"] == [
        1,
        2,
        3,
        4,
    ]


def test_start_step_with_a_condition_also_fires_later() -> None:
    class Retry(Flow):
        @start("again")
        def work(self) -> None:
            self.state["runs"] = self.state.get("runs", 0) + 1

        @router(work)
        def check(self) -> str:
            if self.state["runs"] < 2:
                return "again"
            return "ok"

        @listen("ok")
        def done(self) -> int:
            return self.state["runs"]

    assert Retry().kickoff() == 2


def test_step_completed_events_carry_durations() -> None:
    class Timed(Flow):
        @start()
        async def nap(self) -> None:
            await asyncio.sleep(0.01)

    flow = Timed()
    flow.kickoff()
    (done,) = of_type(flow.events, "StepCompleted")
    assert isinstance(done, StepCompleted)
    assert done.duration >= 0.009  # the step slept at least 10 ms
    (run,) = of_type(flow.events, "RunCompleted")
    assert run.duration >= done.duration


def test_kickoff_errors_are_not_chained_to_an_internal_error() -> None:
    """A traceback should start at the user's problem, not at "no running event loop"."""

    class Broken(Flow):
        @start()
        def go(self) -> None:
            raise ValueError("user problem")

    with pytest.raises(ValueError, match="user problem") as info:
        Broken().kickoff()
    assert info.value.__context__ is None, repr(info.value.__context__)

    def task() -> None: ...

    unplanned = Workflow("unplanned")
    unplanned.add(task, name="b", depends_on=["nowhere"])  # a task graph's problems are errors
    with pytest.raises(PlanError) as plan_info:
        unplanned.run()
    assert plan_info.value.__context__ is None, repr(plan_info.value.__context__)


@pytest.mark.parametrize("bad", ["a b", "x\x1b[31m", "$(rm -rf ~)", "é", "a" * 201, "-x"])
def test_a_chosen_run_id_must_be_printable_and_quotable(bad: str) -> None:
    from plait import InputError

    class One(Flow):
        @start()
        def a(self) -> int:
            return 1

    with pytest.raises(InputError, match="cannot be a run id"):
        One().kickoff(inputs={"id": bad})
    with pytest.raises(InputError, match="cannot be a run id"):
        One().kickoff(run_id=bad)
    assert One().kickoff(inputs={"id": "order-17:retry@2"}) == 1


def test_a_replaced_local_executor_call_runs_async_steps_too() -> None:
    """The run loop awaits async steps itself under LocalExecutor; once its call is
    replaced (a subclass, or a patch of an instance), every step goes through it."""
    from plait.executors import LocalExecutor

    class Once(Flow):
        @start()
        async def only(self) -> str:
            return "ran"

    seen: list[str] = []

    class Watching(LocalExecutor):
        async def call(self, fn: Any, args: Any, kwargs: Any, is_async: bool) -> Any:
            seen.append(fn.__name__)
            return await super().call(fn, args, kwargs, is_async)

    assert Once().kickoff(executor=Watching()) == "ran"
    assert seen == ["only"]

    patched = LocalExecutor()
    original = patched.call

    async def spy(fn: Any, args: Any, kwargs: Any, is_async: bool) -> Any:
        seen.append("patched " + fn.__name__)
        return await original(fn, args, kwargs, is_async)

    patched.call = spy  # type: ignore[method-assign]
    assert Once().kickoff(executor=patched) == "ran"
    assert seen == ["only", "patched only"]
    assert LocalExecutor().awaits_async_steps  # the plain one still takes the fast way
