"""L3: events, the reducer, the scheduler, the run loop and the step context."""

from plait.runtime._bindings import Binding
from plait.runtime._codec import (
    EVENT_FORMAT,
    decode_event,
    dumps_event,
    encode_event,
    from_json_value,
    loads_event,
    to_json_value,
)
from plait.runtime._context import StepContext, current_context
from plait.runtime._events import (
    EVENT_TYPES,
    CacheHit,
    Event,
    EventEmitted,
    InputReceived,
    InputRequested,
    ItemCompleted,
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
    StepFailed,
    StepStarted,
)
from plait.runtime._input import pending, waiting_error
from plait.runtime._lease import Lease, is_stale, owner_is_dead
from plait.runtime._loop import RunLoop
from plait.runtime._scheduler import CompleteRun, FailRun, StartStep, WaitRun, decide
from plait.runtime._triggers import TriggerIndex
from plait.runtime._view import Ready, RunView, apply, replay
from plait.runtime.ports import CacheEntry, Executor, RunRecord, Store

__all__ = [
    "EVENT_FORMAT",
    "EVENT_TYPES",
    "Binding",
    "CacheEntry",
    "CacheHit",
    "CompleteRun",
    "Event",
    "EventEmitted",
    "Executor",
    "FailRun",
    "InputReceived",
    "InputRequested",
    "ItemCompleted",
    "Lease",
    "Ready",
    "RouteTaken",
    "RunCancelled",
    "RunCompleted",
    "RunFailed",
    "RunLoop",
    "RunRecord",
    "RunResumed",
    "RunStarted",
    "RunView",
    "RunWaiting",
    "StartStep",
    "StateChanged",
    "StateSnapshot",
    "StepCompleted",
    "StepContext",
    "StepFailed",
    "StepStarted",
    "Store",
    "TriggerIndex",
    "WaitRun",
    "apply",
    "current_context",
    "decide",
    "decode_event",
    "dumps_event",
    "encode_event",
    "from_json_value",
    "is_stale",
    "loads_event",
    "owner_is_dead",
    "pending",
    "replay",
    "to_json_value",
    "waiting_error",
]
