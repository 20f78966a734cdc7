"""``FlowBuilder``: the same flows as the decorators, from data and callables, and back
from a stored plan."""

from __future__ import annotations

import operator
from typing import Any

import pytest
from pydantic import BaseModel

from plait import (
    DefinitionError,
    Flow,
    FlowBuilder,
    Plan,
    PlanError,
    Workflow,
    and_,
    compile,
    listen,
    on_event,
    or_,
    router,
    start,
)


class Topic(BaseModel):
    topic: str = "bees"
    rounds: int = 0
    heard: str = ""
    verdict: str = ""


class Research(Flow[Topic]):
    """Every kind of trigger: two starts (one on a label), or_, an event, a router
    whose label loops back, and_ — and per-step policies."""

    max_calls = 5

    @start(cache=True)
    def begin(self) -> str:
        return self.state.topic

    @start("again")
    def restart(self) -> str:
        return self.state.topic + "!"

    @listen(or_(begin, "again"), retry=2, timeout=5.0)
    def fetch(self, topic: str) -> str:
        self.state.rounds += 1
        self.emit("fetched", topic)
        return f"about {topic}"

    @listen(on_event("fetched"), max_calls=3)
    def hear(self, payload: str) -> None:
        self.state.heard = payload

    @router(fetch, labels=["again", "done"])
    def judge(self) -> str:
        return "again" if self.state.rounds < 2 else "done"

    @listen(and_("done", hear))
    def finish(self) -> str:
        self.state.verdict = "ok"
        return f"{self.state.topic} after {self.state.rounds} rounds"


R = Research  # its methods are plain functions: the builder binds the very same code


def built_with_methods() -> FlowBuilder:
    b = FlowBuilder("Research", state=Topic, max_calls=5)
    b.start("begin", R.begin, cache=True)
    b.start("restart", R.restart, "again")
    b.listen("fetch", R.fetch, or_("begin", "again"), retry=2, timeout=5.0)
    b.listen("hear", R.hear, on_event("fetched"), max_calls=3)
    b.router("judge", R.judge, "fetch", labels=["again", "done"])
    b.listen("finish", R.finish, and_("done", "hear"))
    return b


def built_from_data() -> FlowBuilder:
    """What a YAML document gives: names, plain-data conditions, options, callables."""
    document: list[dict[str, Any]] = [
        {"name": "begin", "start": True, "cache": True},
        {"name": "restart", "start": "again"},
        {
            "name": "fetch",
            "after": {"or": ["begin", {"label": "again"}]},
            "retry": 2,
            "timeout": 5.0,
        },
        {"name": "hear", "after": {"event": "fetched"}, "max_calls": 3},
        {"name": "judge", "after": "fetch", "router": True, "labels": ["again", "done"]},
        {"name": "finish", "after": {"and": [{"label": "done"}, {"step": "hear"}]}},
    ]
    b = FlowBuilder("Research", state=Topic, max_calls=5)
    for entry in document:
        name = entry.pop("name")
        b.add(name, getattr(Research, name), **entry)
    return b


def final(flow: Flow[Any]) -> dict[str, Any]:
    return dict(flow.state.model_dump(exclude={"id"}))


@pytest.mark.parametrize("build", [built_with_methods, built_from_data])
def test_the_builder_compiles_to_the_decorators_plan_and_runs_alike(build: Any) -> None:
    builder = build()
    assert builder.plan() == compile(Research)
    assert [s.name for s in builder.plan().steps] == list(Research.__plait_steps__)

    decorated, built = Research(), builder.build()
    assert built.kickoff() == decorated.kickoff() == "bees after 2 rounds"
    expected = {"topic": "bees", "rounds": 2, "heard": "again", "verdict": "ok"}
    assert final(built) == final(decorated) == expected  # heard: the label's fetch
    ran = sorted(e.step for e in built.events if type(e).__name__ == "StepCompleted")
    assert ran == sorted(e.step for e in decorated.events if type(e).__name__ == "StepCompleted")


def test_a_router_that_also_starts_is_the_stacked_decorators() -> None:
    class Stacked(Flow):
        @start()
        @router()
        def pick(self) -> str:
            return "left"

        @listen("left")
        def left(self) -> str:
            return "went left"

    b = FlowBuilder("Stacked").router("pick", Stacked.pick, start=True)
    b.listen("left", Stacked.left, "left")
    assert b.plan() == compile(Stacked)
    assert b.build().kickoff() == "went left"


def test_steps_are_plain_functions_of_the_flow() -> None:
    def count(flow: Flow[Any]) -> int:
        flow.state["n"] = flow.state.get("n", 0) + 1
        flow.emit("counted", flow.state["n"])
        return int(flow.state["n"])

    async def double(flow: Flow[Any], n: int) -> int:
        return n * 2

    def heard(flow: Flow[Any], n: int) -> None:
        flow.state["heard"] = n

    flow = (
        FlowBuilder("plain", reducers={"total": operator.add})
        .start("count", count)
        .listen("double", double, count)
        .listen("heard", heard, {"event": "counted"})
        .build()
    )
    flow.kickoff({"n": 20})
    assert sorted(flow.method_outputs, key=str) == [21, 42, None]
    assert flow.state["heard"] == 21
    assert compile(type(flow)).reducers == ("total",)


def test_definition_problems_raise_when_the_flow_is_built() -> None:
    b = FlowBuilder("bad").start("a", lambda flow: 1)
    with pytest.raises(DefinitionError, match="two steps are named 'a'"):
        b.start("a", lambda flow: 2)
    with pytest.raises(DefinitionError, match="has no trigger"):
        b.add("b", lambda flow: 2)
    with pytest.raises(DefinitionError, match="both start= and after="):
        b.add("b", lambda flow: 2, start=True, after="a")
    with pytest.raises(DefinitionError, match="labels= but is not a router"):
        b.add("b", lambda flow: 2, after="a", labels=["x"])
    with pytest.raises(DefinitionError, match="router 'r' has nothing to listen to"):
        b.router("r", lambda flow: "x")
    with pytest.raises(DefinitionError, match="unknown condition"):
        b.listen("c", lambda flow: 2, {"after": "a"})
    with pytest.raises(TypeError, match="unknown option"):
        b.listen("c", lambda flow: 2, "a", retries=3)
    with pytest.raises(DefinitionError, match="a flow needs a name"):
        FlowBuilder("")

    class Wrong(BaseModel):
        x: int = 0

    def augments(self: Any) -> None:
        self.state.x += 1

    b = FlowBuilder("reduced", state=Wrong, reducers={"x": operator.add}).start("a", augments)
    with pytest.raises(PlanError, match="augmented assignment"):
        b.build()  # compiled when built, not at kickoff


def test_adding_a_step_after_building_makes_a_new_definition() -> None:
    b = FlowBuilder("grow").start("a", lambda flow: "a")
    first = b.build()
    b.listen("b", lambda flow, a: a + "b", "a")
    assert first.kickoff() == "a"
    assert b.build().kickoff() == "ab"


# -- from a stored plan ------------------------------------------------------------------


def bindings() -> dict[str, Any]:
    return {name: getattr(Research, name) for name in Research.__plait_steps__}


def test_a_stored_plan_and_its_bindings_run_again() -> None:
    stored = Plan.from_json(compile(Research).to_json())
    flow = FlowBuilder.from_plan(stored, bindings(), state=Topic)
    assert compile(type(flow)) == compile(Research)
    assert flow.kickoff() == "bees after 2 rounds"
    assert flow.state.verdict == "ok"


def test_from_plan_names_missing_and_extra_bindings() -> None:
    given = bindings()
    given["finsh"] = given.pop("finish")
    del given["hear"]
    with pytest.raises(DefinitionError) as info:
        FlowBuilder.from_plan(compile(Research), given, state=Topic)
    text = str(info.value)
    assert "missing bindings for step(s) 'hear', 'finish'" in text
    assert "extra bindings 'finsh' (did you mean 'finish'?)" in text


def test_from_plan_refuses_a_definition_that_compiles_to_another_plan() -> None:
    with pytest.raises(DefinitionError, match="state_type: the plan has"):
        FlowBuilder.from_plan(compile(Research), bindings())  # no state model given
    with pytest.raises(DefinitionError, match=r"is a flow plan; Workflow\.from_plan"):
        Workflow.from_plan(compile(Research), bindings())


def test_a_stored_workflow_plan_runs_again() -> None:
    wf = Workflow("etl")

    @wf.task()
    def extract(base: int) -> list[int]:
        return [base, base + 1]

    @wf.task(depends_on=[extract], retry=2)
    def total(extract: list[int]) -> int:
        return sum(extract)

    stored = Plan.from_json(compile(wf).to_json())
    again = Workflow.from_plan(stored, {"extract": extract, "total": total})
    assert compile(again) == compile(wf)
    assert again.run({"base": 3}) == wf.run({"base": 3}) == 7
    with pytest.raises(DefinitionError, match=r"is a workflow plan; FlowBuilder\.from_plan"):
        FlowBuilder.from_plan(stored, {"extract": extract, "total": total})


def test_from_plan_names_what_it_takes_when_given_a_dict() -> None:
    from plait import DefinitionError, FlowBuilder, Workflow

    for rebuild, name in ((FlowBuilder.from_plan, "FlowBuilder"), (Workflow.from_plan, "Workflow")):
        with pytest.raises(DefinitionError, match=rf"{name}\.from_plan takes a plait\.Plan"):
            rebuild({"format": 1, "name": "x", "kind": "flow", "ref": "m:X"}, {})
