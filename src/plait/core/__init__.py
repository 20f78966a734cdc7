"""L0: errors, run ids, optional extras, URLs as they may be shown. No imports from plait
layers."""

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
from plait.core._urls import mask_secrets, mask_url, scrub

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
    "mask_secrets",
    "mask_url",
    "new_run_id",
    "parse_duration",
    "require_extra",
    "scrub",
]
