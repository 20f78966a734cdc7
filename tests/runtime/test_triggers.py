"""TriggerIndex: who listens to what."""

from __future__ import annotations

from plait.define import Leaf
from plait.plan import PlanStep
from plait.runtime import TriggerIndex
from tests.runtime._helpers import all_, any_, label, plan_of, step


def test_index_knows_starts_and_listeners() -> None:
    plan = plan_of(
        PlanStep("a", start=True),
        PlanStep("b", start=True, trigger=label("again")),
        PlanStep("c", trigger=step("a")),
        PlanStep("d", trigger=any_(step("a"), all_(step("b"), Leaf("event", "e")))),
    )
    index = TriggerIndex.build(plan)
    assert index.starts == ["a", "b"]
    assert index.direct[("step", "a")] == ["c"]
    assert index.direct[("label", "again")] == ["b"]
    assert [owner for owner, _ in index.nested[("step", "a")]] == ["d"]
    assert [owner for owner, _ in index.nested[("event", "e")]] == ["d"]
    assert index.listeners(("step", "a"))
    assert index.listeners(("event", "e"))
    assert not index.listeners(("step", "d"))
    assert not index.listeners(("label", "nobody"))


def test_equal_plans_build_equal_indexes() -> None:
    def make() -> TriggerIndex:
        return TriggerIndex.build(
            plan_of(
                PlanStep("a", start=True),
                PlanStep("b", trigger=all_(step("a"), any_(label("x"), label("y")))),
            )
        )

    assert make() == make()
