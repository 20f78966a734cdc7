"""TriggerIndex: who listens to what."""

from __future__ import annotations

from enum import Enum

import pytest

from plait.define import Leaf
from plait.plan import Plan, PlanStep
from plait.runtime import TriggerIndex
from plait.runtime._triggers import route_label
from tests.runtime._helpers import all_, any_, label, plan_of, step


class Colour(Enum):
    RED = "red"


class Level(Enum):
    HIGH = 2


def test_index_knows_starts_and_listeners() -> None:
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("b", start=True, trigger=label("again")),
        PlanStep("c", trigger=step("a")),
        PlanStep("d", trigger=any_(step("a"), all_(step("b"), Leaf("event", "e")))),
    )
    index = TriggerIndex.build(plan)
    assert index.starts == ["a"]  # b has a condition: it waits for it (a runs at kickoff)
    assert index.direct[("step", "a")] == ["c"]
    assert index.direct[("label", "a")] == ["c"]  # one namespace: a router may return "a"
    assert index.direct[("label", "again")] == ["b"]
    assert index.once == {"d"} and index.quiet == {"b"}
    assert [owner for owner, _ in index.nested[("step", "a")]] == ["d"]
    assert [owner for owner, _ in index.nested[("event", "e")]] == ["d"]
    assert index.listeners(("step", "a"))
    assert index.listeners(("event", "e"))
    assert not index.listeners(("step", "d"))
    assert not index.listeners(("label", "nobody"))


def test_plain_keys_are_those_heard_only_by_listeners_that_always_fire() -> None:
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("b", start=True, trigger=label("again")),  # quiet
        PlanStep("c", trigger=step("a")),
        PlanStep("d", trigger=any_(step("c"), step("x"))),  # once
        PlanStep("e", trigger=all_(step("c"), step("y"))),  # a join
        PlanStep("f", trigger=step("x")),
        PlanStep("g", trigger=step("c")),
    )
    index = TriggerIndex.build(plan)
    assert index.plain[("step", "a")] == ["c"]
    assert ("label", "again") not in index.plain  # b runs without the value
    assert ("step", "x") not in index.plain  # d fires once, until re-armed
    assert ("step", "c") not in index.plain  # d, and e's join
    assert ("step", "y") not in index.plain  # e's join only
    assert all(index.plain[k] == index.direct[k] for k in index.plain)


def test_equal_plans_build_equal_indexes() -> None:
    def make() -> TriggerIndex:
        return TriggerIndex.build(
            plan_of(
                PlanStep("a", start=True),
                PlanStep("b", trigger=all_(step("a"), any_(label("x"), label("y")))),
            )
        )

    assert make() == make()


def test_only_conditional_starts_all_run_at_kickoff() -> None:
    plan = plan_of(
        PlanStep("a", start=True, trigger=label("x")),
        PlanStep("b", start=True, trigger=step("a")),
    )
    index = TriggerIndex.build(plan)
    assert index.starts == ["a", "b"]
    assert index.direct[("label", "a")] == ["b"]  # a start hears a step name as a label
    assert ("step", "a") not in index.direct


def test_a_router_or_fires_every_time_and_workflows_keep_their_keys() -> None:
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("r", kind="router", trigger=any_(step("a"), label("again"))),
    )
    assert TriggerIndex.build(plan).once == set()
    tasks = Plan(
        name="w",
        kind="workflow",
        steps=(PlanStep("a", start=True), PlanStep("b", trigger=step("a"))),
    )
    assert list(TriggerIndex.build(tasks).direct) == [("step", "a")]


@pytest.mark.parametrize(
    ("output", "label_"),
    [
        ("yes", "yes"),
        (None, None),
        (0, "0"),
        (False, "False"),
        (Colour.RED, "red"),
        (Level.HIGH, "2"),
    ],
)
def test_route_label_converts_like_crewai(output: object, label_: str | None) -> None:
    assert route_label(output) == label_
