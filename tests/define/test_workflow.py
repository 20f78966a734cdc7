"""Workflow definitions: tasks and their dependencies, checked as they are added."""

from __future__ import annotations

import pytest

from plait import DefinitionError, Workflow
from plait.define import AllOf, leaves


def test_tasks_record_their_dependencies() -> None:
    wf = Workflow("etl")

    @wf.task()
    def extract() -> list[int]:
        return [1]

    @wf.task(depends_on=[extract, "extract2"])
    def load(extract: list[int], extract2: list[int]) -> None: ...

    steps = wf.__plait_steps__
    assert steps["extract"].start and steps["extract"].condition is None
    assert not steps["load"].start
    assert steps["load"].depends_on == ("extract", "extract2")
    condition = steps["load"].condition
    assert isinstance(condition, AllOf)
    assert [leaf.name for leaf in leaves(condition)] == ["extract", "extract2"]


def test_decorator_returns_the_function_unchanged() -> None:
    wf = Workflow("w")

    def f() -> int:
        return 1

    assert wf.task()(f) is f
    assert f() == 1


def test_add_with_an_explicit_name() -> None:
    wf = Workflow("w")
    step = wf.add(lambda: 1, name="one")
    assert step.name == "one"
    assert "one" in wf.__plait_steps__


def test_non_callable_task_is_rejected() -> None:
    wf = Workflow("w")
    with pytest.raises(DefinitionError, match="not callable"):
        wf.add(42)  # type: ignore[arg-type]


def test_lambda_needs_a_name() -> None:
    wf = Workflow("w")
    with pytest.raises(DefinitionError, match="name="):
        wf.add(lambda: 1)


def test_two_tasks_with_one_name_are_rejected() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1, name="a")
    with pytest.raises(DefinitionError, match="two tasks are named 'a'"):
        wf.add(lambda: 2, name="a")


def test_a_dependency_listed_twice_is_rejected() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1, name="a")
    with pytest.raises(DefinitionError, match="twice"):
        wf.add(lambda a: a, name="b", depends_on=["a", "a"])


def test_workflow_needs_a_name() -> None:
    with pytest.raises(DefinitionError):
        Workflow("")
