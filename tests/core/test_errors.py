"""The exception tree, error messages, optional extras and run ids."""

from __future__ import annotations

import pytest

from plait.core import (
    DefinitionError,
    InputError,
    LoopLimitError,
    MissingExtraError,
    PlaitError,
    PlanError,
    RouterError,
    RunError,
    StageValidationError,
    StepError,
    StepTimeoutError,
    StoreError,
    new_run_id,
    require_extra,
)


@pytest.mark.parametrize(
    ("error", "parent"),
    [
        (DefinitionError, PlaitError),
        (PlanError, DefinitionError),
        (InputError, PlaitError),
        (RunError, PlaitError),
        (StepError, RunError),
        (StepTimeoutError, StepError),
        (StageValidationError, StepError),
        (RouterError, RunError),
        (LoopLimitError, RunError),
        (StoreError, PlaitError),
        (MissingExtraError, PlaitError),
        (MissingExtraError, ImportError),
    ],
)
def test_error_tree(error: type[BaseException], parent: type[BaseException]) -> None:
    assert issubclass(error, parent)


def test_core_has_no_dead_errors() -> None:
    import plait.core

    # RunCancelled is an event (plait.RunCancelled); nothing raised these two.
    assert not hasattr(plait.core, "RunCancelled")
    assert not hasattr(plait.core, "StateConflictError")


def test_plan_error_lists_every_problem() -> None:
    err = PlanError("shop", ["first thing", "second thing"])
    assert err.name == "shop"
    assert err.problems == ("first thing", "second thing")
    text = str(err)
    assert "'shop'" in text
    assert "2 problems" in text
    assert "  - first thing" in text
    assert "  - second thing" in text


def test_plan_error_keeps_its_kind() -> None:
    err = PlanError("etl", ["x"], kind="workflow")
    assert err.kind == "workflow"
    assert str(err).startswith("workflow 'etl' has 1 problem")
    assert PlanError("f", ["x"]).kind == "flow"


def test_plan_error_with_one_problem_says_problem() -> None:
    assert "1 problem:" in str(PlanError("f", ["x"]))


def test_step_error_carries_where_it_happened() -> None:
    err = StepError("boom", flow="f", run_id="r1", step="s", attempt=3)
    assert (err.flow, err.run_id, err.step, err.attempt) == ("f", "r1", "s", 3)
    assert str(err) == "boom"


def test_run_error_defaults() -> None:
    err = RunError("oops")
    assert (err.flow, err.run_id) == ("", "")


def test_require_extra_returns_the_module() -> None:
    import json

    assert require_extra("json", "json") is json


def test_require_extra_names_the_extra_to_install() -> None:
    with pytest.raises(MissingExtraError) as info:
        require_extra("plait_no_such_module_xyz", "fancy", feature="the fancy backend")
    text = str(info.value)
    assert "the fancy backend" in text
    assert "pip install 'plait[fancy]'" in text
    assert isinstance(info.value.__cause__, ImportError)


def test_run_ids_are_unique_and_sortable_by_time() -> None:
    ids = [new_run_id() for _ in range(200)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    # the first 12 hex digits are milliseconds: never decreasing
    stamps = [int(i[:12], 16) for i in ids]
    assert stamps == sorted(stamps)
