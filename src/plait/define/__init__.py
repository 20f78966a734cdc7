"""L1: what users write — flows, workflows, triggers and policies. No I/O, no asyncio."""

from plait.define._flow import Flow
from plait.define._policies import DEFAULT_MAX_CALLS, CachePolicy, RetryPolicy, StepOptions
from plait.define._port import NO_DEFAULT, install_engine
from plait.define._state import (
    Reducer,
    StateDict,
    assignment_problem,
    build_state,
    current_step,
    is_model_type,
    live_mapping,
    reducer,
    reducers_of,
    state_fields,
)
from plait.define._steps import StepDef, is_async_callable, listen, router, start
from plait.define._triggers import (
    AllOf,
    AnyOf,
    Condition,
    Leaf,
    LeafKind,
    and_,
    leaves,
    on_event,
    or_,
)
from plait.define._workflow import Workflow, task_params

__all__ = [
    "DEFAULT_MAX_CALLS",
    "NO_DEFAULT",
    "AllOf",
    "AnyOf",
    "CachePolicy",
    "Condition",
    "Flow",
    "Leaf",
    "LeafKind",
    "Reducer",
    "RetryPolicy",
    "StateDict",
    "StepDef",
    "StepOptions",
    "Workflow",
    "and_",
    "assignment_problem",
    "build_state",
    "current_step",
    "install_engine",
    "is_async_callable",
    "is_model_type",
    "leaves",
    "listen",
    "live_mapping",
    "on_event",
    "or_",
    "reducer",
    "reducers_of",
    "router",
    "start",
    "state_fields",
    "task_params",
]
