"""Workflow definitions: tasks and their dependencies, checked as they are added."""

from __future__ import annotations

import functools

import pytest

from plait import DefinitionError, Workflow
from plait.define import AllOf, leaves, task_params


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


def test_positional_only_task_parameters_are_rejected_at_add() -> None:
    wf = Workflow("w")

    @wf.task()
    def src() -> int:
        return 2

    def square(src: int, /) -> int:
        return src * src

    with pytest.raises(DefinitionError) as info:
        wf.add(square, depends_on=[src])
    text = str(info.value)
    assert "'square'" in text and "positional-only" in text and "'src'" in text
    assert "square" not in wf.__plait_steps__


def test_a_task_whose_signature_cannot_be_read_is_rejected_at_add() -> None:
    wf = Workflow("w")
    with pytest.raises(DefinitionError, match="cannot read the parameters of task 'mx'"):
        wf.add(max, name="mx")


def add(a: int, b: int = 0) -> int:
    return a + b


class Tool:
    def __call__(self) -> int:
        return 1


class Unhashable:
    __hash__ = None  # type: ignore[assignment]

    def __call__(self) -> int:
        return 2


def test_partials_and_callable_objects_are_tasks() -> None:
    wf = Workflow("w")
    partial = wf.add(functools.partial(add, 1), name="p")
    tool = wf.add(Tool(), name="tool")
    wf.add(Unhashable(), name="unhashable")
    assert partial.ref == "functools:partial"
    assert tool.ref == f"{__name__}:Tool"
    assert task_params(functools.partial(add, 1)) == ((), ("b",), False)
    assert task_params(Unhashable()) == ((), (), False)
    assert wf.run() == {"p": 1, "tool": 1, "unhashable": 2}
    assert wf.run({"b": 5})["p"] == 6  # an optional parameter is read from the inputs
