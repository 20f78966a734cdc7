"""Run events: the append-only log a run is made of.

Every event carries the run id, its sequence number in the run (``seq``, from 1) and a
wall-clock timestamp (``ts``, seconds since the epoch).

Events are records: nothing changes one after it is recorded, and code that reads them
must not either. In memory an event holds the step's output object itself (not a copy):
a later step that mutates that object in place changes what the in-memory log shows;
durable stores serialise each event when it is recorded. They are slotted dataclasses but not ``frozen=True``, on purpose: a run
makes three or four per step, and frozen construction costs 0.5 µs more per event — a
fifth of the engine's whole per-step budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, kw_only=True)
class Event:
    run_id: str
    seq: int
    ts: float

    @property
    def type(self) -> str:
        return type(self).__name__


@dataclass(slots=True, kw_only=True)
class RunStarted(Event):
    flow: str
    inputs: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class StepStarted(Event):
    step: str
    invocation: int
    attempt: int = 1


@dataclass(slots=True, kw_only=True)
class StepCompleted(Event):
    step: str
    invocation: int
    output: Any = None
    duration: float = 0.0


@dataclass(slots=True, kw_only=True)
class StepFailed(Event):
    step: str
    invocation: int
    attempt: int
    error: str
    error_type: str
    traceback: str = ""
    retrying: bool = False
    duration: float = 0.0


@dataclass(slots=True, kw_only=True)
class StateChanged(Event):
    """Top-level state keys a step set (``changes``) or removed (``removed``)."""

    step: str
    changes: dict[str, Any]
    removed: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class StateSnapshot(Event):
    """The whole state, stored once every ``SNAPSHOT_EVERY`` patches (``StateChanged``)."""

    state: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class RouteTaken(Event):
    step: str
    invocation: int
    label: str


@dataclass(slots=True, kw_only=True)
class EventEmitted(Event):
    step: str
    name: str
    payload: Any = None
    invocation: int = 0
    index: int = 0
    """The n-th ``emit`` of this step invocation (0 in logs written before it was kept):
    a retried or resumed step does not emit it again."""


@dataclass(slots=True, kw_only=True)
class ItemCompleted(Event):
    """One item of a ``map`` inside a step finished; recorded so resume skips it."""

    step: str
    invocation: int
    index: int
    output: Any = None
    call: int = 1
    """Which ``map`` call of the step attempt (1 for the first)."""


@dataclass(slots=True, kw_only=True)
class CacheHit(Event):
    """The step's cache had its result: it did not run (its ``StepCompleted`` follows)."""

    step: str
    invocation: int
    key: str


@dataclass(slots=True, kw_only=True)
class ModelCalled(Event):
    """A step called a model and got ``response`` (a ``plait.llm.Response``). Recorded, so
    a resumed step gets the same response back instead of paying for the call again."""

    step: str
    invocation: int
    index: int
    """Which model call of the step invocation (1 for the first)."""
    provider: str
    model: str
    response: Any = None
    latency: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    """In the price table's currency (USD by default); None when the model has no price."""
    cached: bool = False
    """The response came from the model response cache (no call was made; cost 0)."""
    fingerprint: str = ""
    """A hash of the request, so a resumed step gets each call's own response back."""


@dataclass(slots=True, kw_only=True)
class ToolCalled(Event):
    """A step (an agent) called a tool: its arguments and output, or its error."""

    step: str
    invocation: int
    index: int
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    error: str = ""
    latency: float = 0.0
    fingerprint: str = ""
    """A hash of the tool's name and arguments (see ``ModelCalled.fingerprint``)."""


@dataclass(slots=True, kw_only=True)
class TokenStreamed(Event):
    """A piece of a model's streamed answer. Listeners hear it live; it is not stored
    (its ``seq`` is 0)."""

    step: str
    invocation: int
    text: str


@dataclass(slots=True, kw_only=True)
class InputRequested(Event):
    """A step asked a person for input (``ask``); it waits, and the run with it."""

    step: str
    invocation: int
    key: int
    """Which ``ask`` of the step invocation (1 for the first)."""
    prompt: str
    schema: dict[str, Any] = field(default_factory=dict)
    """The JSON schema an answer must fit ({} for any JSON value)."""
    deadline: float | None = None
    """When the wait times out (epoch seconds); None for never."""
    default: Any = None
    has_default: bool = False
    """Whether a timed-out wait answers ``default`` (otherwise the step fails)."""


@dataclass(slots=True, kw_only=True)
class InputReceived(Event):
    """The answer to an ``InputRequested`` (or its timeout)."""

    step: str
    invocation: int
    key: int
    value: Any = None
    timed_out: bool = False


@dataclass(slots=True, kw_only=True)
class RunWaiting(Event):
    """Nothing can run until a person answers; the run stops here, resumable."""

    steps: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class RunCompleted(Event):
    output: Any = None
    duration: float = 0.0


@dataclass(slots=True, kw_only=True)
class RunFailed(Event):
    error: str
    error_type: str
    step: str = ""


@dataclass(slots=True, kw_only=True)
class RunResumed(Event):
    """The run continues from its stored log (after a crash, a failure, a restart)."""

    rerun: tuple[str, ...] = ()
    """Steps that had started but not completed, which run again."""


@dataclass(slots=True, kw_only=True)
class RunCancelled(Event):
    reason: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        RunStarted,
        StepStarted,
        StepCompleted,
        StepFailed,
        StateChanged,
        RouteTaken,
        EventEmitted,
        ItemCompleted,
        RunCompleted,
        RunFailed,
        RunCancelled,
        RunResumed,
        InputRequested,
        InputReceived,
        RunWaiting,
        CacheHit,
        StateSnapshot,
        ModelCalled,
        ToolCalled,
        TokenStreamed,
    )
}
