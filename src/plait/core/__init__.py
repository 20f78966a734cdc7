"""L0: errors, run ids and optional extras. No imports from plait layers."""

from plait.core._durations import parse_duration
from plait.core._errors import (
    DefinitionError,
    InputError,
    InputTimeoutError,
    LoopLimitError,
    MissingExtraError,
    PlaitError,
    PlanError,
    RouterError,
    RunBusyError,
    RunError,
    StageValidationError,
    StepError,
    StepTimeoutError,
    StoreError,
    WaitingForInput,
)
from plait.core._extras import require_extra
from plait.core._ids import new_run_id

__all__ = [
    "DefinitionError",
    "InputError",
    "InputTimeoutError",
    "LoopLimitError",
    "MissingExtraError",
    "PlaitError",
    "PlanError",
    "RouterError",
    "RunBusyError",
    "RunError",
    "StageValidationError",
    "StepError",
    "StepTimeoutError",
    "StoreError",
    "WaitingForInput",
    "new_run_id",
    "parse_duration",
    "require_extra",
]
