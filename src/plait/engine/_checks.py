"""What a run is checked for before anything of it is stored or run again: the inputs a
task graph needs, the durability mode, a stored log that can go on under this plan (no
step renamed since), and a run id that is still free."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from plait.core import InputError, RunError
from plait.engine._bind import inputs_needed
from plait.engine._log import StoredRun, load_run
from plait.plan import Plan
from plait.runtime import (
    DURABILITY,
    Event,
    InputReceived,
    InputRequested,
    ItemCompleted,
    RouteTaken,
    StepCompleted,
    StepFailed,
    StepStarted,
    Store,
)


def check_task_inputs(definition: Any, plan: Plan, inputs: Mapping[str, Any]) -> None:
    """Every task parameter that only the inputs can give is in them (dict state)."""
    missing = [
        (task, name)
        for task, name in inputs_needed(definition, plan)
        if name not in inputs and name != "id"  # the state's id is the run id
    ]
    if not missing:
        return
    lines = [
        f"task {task!r} takes {name!r}, which is neither one of its dependencies nor in "
        "the run's inputs"
        for task, name in missing
    ]
    names = sorted({name for _, name in missing})
    example = ", ".join(f"{n!r}: ..." for n in names)
    raise InputError(
        f"workflow {plan.name!r}: " + "; ".join(lines) + f". Pass inputs={{{example}}}, "
        "give the parameter a default, or add the task it should come from to depends_on"
    )


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,199}")


def check_run_id(plan: Plan, run_id: object) -> None:
    """A run id someone chose (``run_id=``, ``inputs={"id": ...}``) is printed in hints,
    tables and shell commands: letters, digits and ``._:@+=-`` only, 200 at most."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise InputError(
            f"{plan.kind} {plan.name!r}: {run_id!r} cannot be a run id: use 1 to 200 letters, "
            "digits and . _ : @ + = - (starting with a letter or digit), or leave it out "
            "for a new one"
        )


def check_durability(plan: Plan, durability: object) -> None:
    if durability not in DURABILITY:
        raise InputError(
            f"{plan.kind} {plan.name!r}: durability={durability!r} is not a durability mode; "
            f'use one of {", ".join(map(repr, DURABILITY))} ("sync", the default, stores '
            "each step's result before anything uses it)"
        )


async def stored_log(store: Store, run_id: str, plan: Plan) -> StoredRun:
    """The run's record and events, after checking it exists, belongs to ``plan`` and can
    go on. No events when the run's first process died between storing the run and its
    first event."""
    found = await load_run(store, run_id, flow=plan.name, started=True)
    if found.record.status == "completed":
        raise RunError(
            f"run {run_id} of {plan.name!r} has already completed: there is nothing to "
            "resume; start a new run",
            flow=plan.name,
            run_id=run_id,
        )
    _check_plan_drift(found.events, run_id, plan)
    return found


# Events a step of the plan records; others may name pseudo-steps (a fork's "fork").
_STEP_EVENTS = (
    StepStarted,
    StepCompleted,
    StepFailed,
    RouteTaken,
    ItemCompleted,
    InputRequested,
    InputReceived,
)


def _check_plan_drift(events: list[Event], run_id: str, plan: Plan) -> None:
    """The stored log names no step the current plan lacks (a deploy renamed or removed
    one): resuming such a run would fail midway, so refuse before anything changes."""
    known = set(plan.step_names)
    missing = sorted(
        {
            step
            for event in events
            if isinstance(event, _STEP_EVENTS) and (step := event.step) not in known
        }
    )
    if not missing:
        return
    names = ", ".join(map(repr, missing))
    raise RunError(
        f"run {run_id} of {plan.name!r} cannot be resumed: its stored log names "
        f"step{'s' if len(missing) > 1 else ''} {names}, which the current "
        f"{plan.kind} no longer has (renamed or removed since the run started). Nothing "
        f"was changed. To go on, fork it into a new run from a checkpoint (plait runs checkpoints "
        f"{run_id}, then plait runs fork {run_id} SEQ) or rerun it from a step the plan "
        f"has (plait runs rerun {run_id} --from STEP)",
        flow=plan.name,
        run_id=run_id,
    )


async def new_run_id_free(store: Store, run_id: str, plan: Plan) -> None:
    """A flow's run id is free in ``store`` (it may come from the state or the inputs)."""
    if await store.get_run(run_id) is None:
        return
    raise RunError(
        f"run {run_id} of {plan.name!r} is already in this store: a flow's run id is its "
        "state's id, and each run needs its own. To go on with that run use "
        f"resume({run_id!r}) (respond() for one that waits); to start a new run, drop 'id' "
        "from the inputs or use a new flow instance",
        flow=plan.name,
        run_id=run_id,
    )
