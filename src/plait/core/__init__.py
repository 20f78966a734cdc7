"""L0: errors, run ids and optional extras. No imports from plait layers."""

from plait.core._durations import parse_duration
from plait.core._errors import (
    AgentError,
    DefinitionError,
    InputError,
    InputTimeoutError,
    LoopLimitError,
    MaxIterationsError,
    MissingExtraError,
    ModelError,
    ModelOutputError,
    PlaitError,
    PlanError,
    RouterError,
    RunBusyError,
    RunError,
    StageValidationError,
    StepError,
    StepTimeoutError,
    StoreError,
    ToolError,
    WaitingForInput,
)
from plait.core._extras import require_extra
from plait.core._ids import new_run_id

__all__ = [
    "AgentError",
    "DefinitionError",
    "InputError",
    "InputTimeoutError",
    "LoopLimitError",
    "MaxIterationsError",
    "MissingExtraError",
    "ModelError",
    "ModelOutputError",
    "PlaitError",
    "PlanError",
    "RouterError",
    "RunBusyError",
    "RunError",
    "StageValidationError",
    "StepError",
    "StepTimeoutError",
    "StoreError",
    "ToolError",
    "WaitingForInput",
    "new_run_id",
    "parse_duration",
    "require_extra",
]
