"""L1: what users write — flows, workflows, triggers and policies. No I/O, no asyncio."""

from plait.define._flow import Flow
from plait.define._policies import DEFAULT_MAX_CALLS, RetryPolicy, StepOptions
from plait.define._state import Reducer, build_state, is_model_type, reducer, state_dict
from plait.define._steps import StepDef, is_async_callable, listen, router, start
from plait.define._triggers import AllOf, AnyOf, Condition, Leaf, and_, leaves, on_event, or_
from plait.define._workflow import Workflow, task_params

__all__ = [
    "DEFAULT_MAX_CALLS",
    "AllOf",
    "AnyOf",
    "Condition",
    "Flow",
    "Leaf",
    "Reducer",
    "RetryPolicy",
    "StepDef",
    "StepOptions",
    "Workflow",
    "and_",
    "build_state",
    "is_async_callable",
    "is_model_type",
    "leaves",
    "listen",
    "on_event",
    "or_",
    "reducer",
    "router",
    "start",
    "state_dict",
    "task_params",
]
