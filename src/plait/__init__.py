"""plait: a fast, durable engine for AI workflows and flows.

>>> from plait import Flow, start, listen
>>> class Hello(Flow):
...     @start()
...     def greet(self):
...         return "hello"
...
...     @listen(greet)
...     def shout(self, text):
...         return text.upper()
>>> Hello().kickoff()
'HELLO'

Names load on first use, so ``import plait`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # authoring
    "Flow": "plait.define",
    "FlowBuilder": "plait.define",
    "start": "plait.define",
    "listen": "plait.define",
    "router": "plait.define",
    "or_": "plait.define",
    "and_": "plait.define",
    "on_event": "plait.define",
    "Workflow": "plait.define",
    "RetryPolicy": "plait.define",
    "CachePolicy": "plait.define",
    "reducer": "plait.define",
    "FlowState": "plait.define",
    "InputProvider": "plait.define",
    "InputResponse": "plait.define",
    "ConsoleProvider": "plait.define",
    # plans
    "compile": "plait.plan",
    "Plan": "plait.plan",
    # running
    "StepContext": "plait.runtime",
    "context": "plait.patterns",
    "emit": "plait.patterns",
    "map": "plait.patterns",
    "ask": "plait.patterns",
    "pipeline": "plait.patterns",
    "Stage": "plait.patterns",
    "scatter_gather": "plait.patterns",
    "map_reduce": "plait.patterns",
    # events
    "Event": "plait.runtime",
    "RunStarted": "plait.runtime",
    "StepStarted": "plait.runtime",
    "StepCompleted": "plait.runtime",
    "StepFailed": "plait.runtime",
    "StateChanged": "plait.runtime",
    "RouteTaken": "plait.runtime",
    "EventEmitted": "plait.runtime",
    "ItemCompleted": "plait.runtime",
    "RunCompleted": "plait.runtime",
    "RunFailed": "plait.runtime",
    "RunResumed": "plait.runtime",
    "RunCancelled": "plait.runtime",
    "RunWaiting": "plait.runtime",
    "StateSnapshot": "plait.runtime",
    "CacheHit": "plait.runtime",
    "InputRequested": "plait.runtime",
    "InputReceived": "plait.runtime",
    # errors
    "PlaitError": "plait.core",
    "DefinitionError": "plait.core",
    "PlanError": "plait.core",
    "InputError": "plait.core",
    "RunError": "plait.core",
    "StepError": "plait.core",
    "StepTimeoutError": "plait.core",
    "InputTimeoutError": "plait.core",
    "WaitingForInput": "plait.core",
    "StageValidationError": "plait.core",
    "RouterError": "plait.core",
    "RunBusyError": "plait.core",
    "LoopLimitError": "plait.core",
    "StoreError": "plait.core",
    "MissingExtraError": "plait.core",
    "ModelError": "plait.core",
    "ModelOutputError": "plait.core",
    "ToolError": "plait.core",
    "AgentError": "plait.core",
    "MaxIterationsError": "plait.core",
    "ModelCalled": "plait.runtime",
    "ToolCalled": "plait.runtime",
    "TokenStreamed": "plait.runtime",
    "Model": "plait.llm",
    "tool": "plait.llm",
    "Agent": "plait.agents",
    "Task": "plait.agents",
    "Crew": "plait.agents",
}

__all__ = [
    "Agent",
    "AgentError",
    "CacheHit",
    "CachePolicy",
    "ConsoleProvider",
    "Crew",
    "DefinitionError",
    "Event",
    "EventEmitted",
    "Flow",
    "FlowBuilder",
    "FlowState",
    "InputError",
    "InputProvider",
    "InputReceived",
    "InputRequested",
    "InputResponse",
    "InputTimeoutError",
    "ItemCompleted",
    "LoopLimitError",
    "MaxIterationsError",
    "MissingExtraError",
    "Model",
    "ModelCalled",
    "ModelError",
    "ModelOutputError",
    "PlaitError",
    "Plan",
    "PlanError",
    "RetryPolicy",
    "RouteTaken",
    "RouterError",
    "RunBusyError",
    "RunCancelled",
    "RunCompleted",
    "RunError",
    "RunFailed",
    "RunResumed",
    "RunStarted",
    "RunWaiting",
    "Stage",
    "StageValidationError",
    "StateChanged",
    "StateSnapshot",
    "StepCompleted",
    "StepContext",
    "StepError",
    "StepFailed",
    "StepStarted",
    "StepTimeoutError",
    "StoreError",
    "Task",
    "TokenStreamed",
    "ToolCalled",
    "ToolError",
    "WaitingForInput",
    "Workflow",
    "__version__",
    "and_",
    "ask",
    "compile",
    "context",
    "emit",
    "listen",
    "map",
    "map_reduce",
    "on_event",
    "or_",
    "pipeline",
    "reducer",
    "router",
    "scatter_gather",
    "start",
    "tool",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'plait' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from plait.agents import Agent, Crew, Task
    from plait.core import (
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
    from plait.define import (
        CachePolicy,
        ConsoleProvider,
        Flow,
        FlowBuilder,
        FlowState,
        InputProvider,
        InputResponse,
        RetryPolicy,
        Workflow,
        and_,
        listen,
        on_event,
        or_,
        reducer,
        router,
        start,
    )
    from plait.llm import Model, tool
    from plait.patterns import (
        Stage,
        ask,
        context,
        emit,
        map,
        map_reduce,
        pipeline,
        scatter_gather,
    )
    from plait.plan import Plan, compile
    from plait.runtime import (
        CacheHit,
        Event,
        EventEmitted,
        InputReceived,
        InputRequested,
        ItemCompleted,
        ModelCalled,
        RouteTaken,
        RunCancelled,
        RunCompleted,
        RunFailed,
        RunResumed,
        RunStarted,
        RunWaiting,
        StateChanged,
        StateSnapshot,
        StepCompleted,
        StepContext,
        StepFailed,
        StepStarted,
        TokenStreamed,
        ToolCalled,
    )
