"""Running workflows: dependencies, parameters by name, parallel tasks, results, inputs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from plait import Flow, InputError, PlanError, StepError, Workflow, start
from tests.engine._helpers import HANG_GUARD, meet, of_type, thread_barrier


def test_outputs_reach_parameters_of_the_same_name() -> None:
    wf = Workflow("etl")

    @wf.task()
    def extract() -> list[int]:
        return [1, 2, 3]

    @wf.task(depends_on=[extract])
    def double(extract: list[int]) -> list[int]:
        return [2 * x for x in extract]

    @wf.task(depends_on=["extract", double])
    async def report(double: list[int], extract: list[int]) -> str:
        return f"{sum(extract)} -> {sum(double)}"

    assert wf.run() == "6 -> 12"
    assert wf.run_id and wf.state["id"] == wf.run_id


def test_tasks_run_after_all_their_dependencies() -> None:
    wf = Workflow("diamond")
    order: list[str] = []

    def task(name: str, *deps: str) -> None:
        def fn() -> str:
            order.append(name)
            return name

        wf.add(fn, name=name, depends_on=deps)

    task("a")
    task("b", "a")
    task("c", "a")
    task("d", "b", "c")
    assert wf.run() == "d"
    assert order[0] == "a" and order[-1] == "d" and sorted(order[1:3]) == ["b", "c"]
    completed = [e.step for e in of_type(wf.events, "StepCompleted")]
    started = {e.step: e.seq for e in of_type(wf.events, "StepStarted")}
    done = {e.step: e.seq for e in of_type(wf.events, "StepCompleted")}
    assert started["d"] > max(done["b"], done["c"])
    assert sorted(completed) == ["a", "b", "c", "d"]


def test_independent_async_tasks_overlap() -> None:
    wf = Workflow("fan")
    barrier = asyncio.Barrier(2)

    async def left() -> str:
        await meet(barrier)
        return "L"

    async def right() -> str:
        await meet(barrier)
        return "R"

    wf.add(left)
    wf.add(right)
    assert wf.run() == {"left": "L", "right": "R"}


def test_independent_sync_tasks_overlap() -> None:
    wf = Workflow("fan")
    barrier = thread_barrier(2)
    wf.add(lambda: barrier.wait() >= 0, name="left")
    wf.add(lambda: barrier.wait() >= 0, name="right")
    assert wf.run() == {"left": True, "right": True}


def test_result_is_the_single_sink_or_a_dict_of_sinks() -> None:
    single = Workflow("one")
    single.add(lambda: 1, name="a")
    single.add(lambda a: a + 1, name="b", depends_on=["a"])
    assert single.run() == 2

    several = Workflow("many")
    several.add(lambda: 1, name="a")
    several.add(lambda a: a + 1, name="b", depends_on=["a"])
    several.add(lambda a: a * 10, name="c", depends_on=["a"])
    assert several.run() == {"b": 2, "c": 10}


def test_inputs_reach_parameters_that_are_not_dependencies() -> None:
    wf = Workflow("greet")

    @wf.task()
    def hello(name: str, punctuation: str = "!") -> str:
        return f"hello {name}{punctuation}"

    assert wf.run({"name": "ann"}) == "hello ann!"
    assert wf.run({"name": "bob", "punctuation": "?"}) == "hello bob?"


def test_kwargs_receive_every_dependency() -> None:
    wf = Workflow("gather")
    wf.add(lambda: 1, name="a")
    wf.add(lambda: 2, name="b")
    wf.add(lambda **deps: dict(sorted(deps.items())), name="all", depends_on=["a", "b"])
    assert wf.run() == {"a": 1, "b": 2}


def test_a_missing_input_is_an_input_error_before_anything_runs() -> None:
    wf = Workflow("greet")
    ran: list[str] = []

    @wf.task()
    def first() -> None:
        ran.append("first")

    @wf.task()
    def hello(name: str) -> str:
        return name

    with pytest.raises(InputError) as info:
        wf.run()
    text = str(info.value)
    assert "workflow 'greet'" in text
    assert "task 'hello' takes 'name'" in text
    assert "inputs={'name': ...}" in text
    assert ran == [] and list(wf.events) == []  # nothing ran, nothing was retried
    assert wf.run(inputs={"name": "ann"}) == {"first": None, "hello": "ann"}


def test_cycles_are_rejected_before_anything_runs() -> None:
    wf = Workflow("loop")
    ran: list[str] = []

    def make(name: str):  # type: ignore[no-untyped-def]
        def fn(**_: object) -> None:
            ran.append(name)

        return fn

    wf.add(make("start"), name="start")
    wf.add(make("a"), name="a", depends_on=["start", "c"])
    wf.add(make("b"), name="b", depends_on=["a"])
    wf.add(make("c"), name="c", depends_on=["b"])
    with pytest.raises(PlanError) as info:
        wf.run()
    assert ran == []
    (problem,) = info.value.problems
    assert "cycle" in problem
    assert all(name in problem for name in "abc")
    assert "'loop'" in str(info.value)


def test_a_failing_task_names_the_workflow_and_task() -> None:
    wf = Workflow("etl")
    wf.add(lambda: 1 / 0, name="divide")
    with pytest.raises(StepError) as info:
        wf.run()
    assert (info.value.flow, info.value.step) == ("etl", "divide")
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_run_async() -> None:
    wf = Workflow("a")
    wf.add(lambda: "x", name="x")
    assert asyncio.run(wf.run_async()) == "x"


class Once(Flow):
    @start()
    def a(self) -> int:
        return 1


def one_task() -> Workflow:
    wf = Workflow("w")
    wf.add(lambda: 1, name="a")
    return wf


@pytest.mark.parametrize("bad", [["x"], "ab", 5, [("k", 1)], []])
@pytest.mark.parametrize("make", [Once, one_task])
def test_inputs_that_are_not_a_mapping_are_an_input_error(
    bad: object, make: Callable[[], Any]
) -> None:
    definition = make()
    runner = definition.kickoff if isinstance(definition, Flow) else definition.run
    with pytest.raises(InputError) as info:
        runner(inputs=bad)
    text = str(info.value)
    assert f"got {type(bad).__name__}" in text
    assert "inputs must be a mapping of names to values" in text
    assert list(definition.events) == []  # nothing ran


def test_one_workflow_serves_two_runs_at_once() -> None:
    gate = asyncio.Event()
    running = asyncio.Event()
    wf = Workflow("slow")

    @wf.task()
    async def wait() -> str:
        running.set()
        await gate.wait()
        return "done"

    async def main() -> None:
        first = asyncio.ensure_future(wf.run_async())
        await running.wait()
        second = asyncio.ensure_future(wf.run_async())  # no "already running"
        await asyncio.sleep(0)
        gate.set()
        async with asyncio.timeout(HANG_GUARD):
            assert await asyncio.gather(first, second) == ["done", "done"]
        assert len({e.run_id for e in wf.events}) == 1  # the events of the run ended last
        running.clear()
        assert await wf.run_async() == "done"

    asyncio.run(main())


def test_a_workflow_is_free_again_after_bad_inputs_or_a_failure() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1 / 0, name="divide")
    with pytest.raises(InputError):
        wf.run(inputs=5)  # type: ignore[arg-type]
    with pytest.raises(StepError):
        wf.run()
    with pytest.raises(StepError):  # not "already running"
        wf.run()


def test_a_failed_task_names_the_workflow_as_a_workflow() -> None:
    wf = Workflow("etl")

    @wf.task()
    def load() -> None:
        raise ValueError("boom")

    with pytest.raises(StepError) as info:
        wf.run()
    assert "step 'load' of workflow 'etl'" in str(info.value)
