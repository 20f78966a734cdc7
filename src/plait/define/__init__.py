"""L1: what users write — flows, workflows, triggers and policies. No I/O, no asyncio."""

from typing import TYPE_CHECKING, Any

from plait.define._builder import FlowBuilder
from plait.define._flow import Flow
from plait.define._policies import DEFAULT_MAX_CALLS, CachePolicy, RetryPolicy, StepOptions
from plait.define._port import NO_DEFAULT, install_engine
from plait.define._providers import ConsoleProvider, InputProvider, InputResponse
from plait.define._state import (
    TRIGGER_PAYLOAD,
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
from plait.define._steps import (
    StepDef,
    is_async_callable,
    listen,
    router,
    start,
    takes_trigger_payload,
)
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

if TYPE_CHECKING:
    from plait.define._flow_state import FlowState

__all__ = [
    "DEFAULT_MAX_CALLS",
    "NO_DEFAULT",
    "TRIGGER_PAYLOAD",
    "AllOf",
    "AnyOf",
    "CachePolicy",
    "Condition",
    "ConsoleProvider",
    "Flow",
    "FlowBuilder",
    "FlowState",
    "InputProvider",
    "InputResponse",
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
    "takes_trigger_payload",
    "task_params",
]


def __getattr__(name: str) -> Any:
    if name == "FlowState":  # imports pydantic, so only when asked for
        from plait.define._flow_state import FlowState

        return FlowState
    raise AttributeError(f"module 'plait.define' has no attribute {name!r}")
