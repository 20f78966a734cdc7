"""Plan: a frozen value with a versioned JSON form."""

from __future__ import annotations

import dataclasses
import json
import operator
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel

from plait import (
    DefinitionError,
    Flow,
    Plan,
    RetryPolicy,
    Workflow,
    and_,
    compile,
    listen,
    on_event,
    or_,
    reducer,
    router,
    start,
)
from plait.plan import PLAN_FORMAT, PlanStep, condition_from_dict, condition_to_dict


class Notes(BaseModel):
    id: str = ""
    notes: Annotated[list[str], reducer(operator.add)] = []
    score: int = 0


def make_flow() -> type[Flow[Notes]]:
    """A flow using every kind of trigger and option; each call defines a new, equal class."""

    class Everything(Flow[Notes]):
        max_calls = 50

        @start()
        def left(self) -> str:
            self.state.notes = ["left"]
            return "l"

        @start(retry=RetryPolicy(attempts=2, retry_on=(ValueError, KeyError)), timeout=3.0)
        async def right(self) -> str:
            self.state.notes = ["right"]
            return "r"

        @listen(and_(left, right))
        def both(self, value: str) -> None:
            self.state.score = 1

        @router(or_(both, "again"), max_calls=5)
        def decide(self) -> Literal["again", "done"]:
            return "done"

        @listen("again")
        def retry_it(self) -> None: ...

        @listen(or_("done", on_event("poke")))
        def finish(self) -> str:
            return "ok"

    return Everything


def test_plan_is_frozen() -> None:
    plan = compile(make_flow())
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.steps[0].name = "other"  # type: ignore[misc]
    assert isinstance(plan.steps, tuple)


def test_plan_describes_the_flow() -> None:
    plan = compile(make_flow())
    assert plan.name == "Everything"
    assert plan.kind == "flow"
    assert plan.format == PLAN_FORMAT
    assert plan.step_names == ["left", "right", "both", "decide", "retry_it", "finish"]
    assert plan.state_fields == ("id", "notes", "score")
    assert plan.reducers == ("notes",)
    assert plan.state_type.endswith("Notes")
    decide = plan.step("decide")
    assert decide.kind == "router"
    assert decide.labels == ("again", "done")
    assert decide.max_calls == 5
    assert plan.step("left").max_calls == 50  # the class default
    assert plan.step("right").is_async and plan.step("right").timeout == 3.0
    assert plan.step("both").takes_input
    assert plan.step("both").writes == ("score",)
    with pytest.raises(DefinitionError, match="no step 'nope'"):
        plan.step("nope")


def test_json_round_trip_gives_the_plan_back() -> None:
    plan = compile(make_flow())
    text = plan.to_json()
    assert json.loads(text)["format"] == PLAN_FORMAT
    again = Plan.from_json(text)
    assert again == plan
    assert hash(again) == hash(plan)
    assert again.to_json() == text
    assert Plan.from_dict(plan.to_dict()) == plan


def test_workflow_plan_round_trips() -> None:
    wf = Workflow("etl")
    wf.add(lambda: 1, name="extract")
    wf.add(lambda extract: extract, name="load", depends_on=["extract"], retry=2)
    plan = compile(wf)
    assert plan.kind == "workflow"
    assert plan.step("load").depends_on == ("extract",)
    assert Plan.from_json(plan.to_json(indent=2)) == plan


def test_equal_definitions_compile_to_equal_plans() -> None:
    first, second = make_flow(), make_flow()
    assert first is not second
    assert compile(first) == compile(second)
    assert compile(first).to_json() == compile(second).to_json()


def test_different_definitions_compile_to_different_plans() -> None:
    class A(Flow):
        @start()
        def a(self) -> None: ...

    class B(Flow):
        name = "A"

        @start(max_calls=3)
        def a(self) -> None: ...

    assert compile(A) != compile(B)


def test_an_instance_compiles_like_its_class() -> None:
    flow = make_flow()
    assert compile(flow()) == compile(flow)


def test_an_unknown_plan_format_is_refused() -> None:
    data = compile(make_flow()).to_dict()
    data["format"] = PLAN_FORMAT + 1
    with pytest.raises(DefinitionError, match="format"):
        Plan.from_dict(data)


def test_conditions_round_trip_through_dicts() -> None:
    step = compile(make_flow()).step("finish")
    assert step.trigger is not None
    data = condition_to_dict(step.trigger)
    assert data == {"or": [{"label": "done"}, {"event": "poke"}]}
    assert condition_from_dict(data) == step.trigger
    with pytest.raises(DefinitionError, match="unknown trigger"):
        condition_from_dict({"xor": []})


def test_plan_steps_are_plain_values() -> None:
    assert PlanStep("a") == PlanStep("a")
    assert hash(PlanStep("a", labels=("x",))) == hash(PlanStep("a", labels=("x",)))
