"""Runs as plain data: what ``plait runs show --json`` and ``plait run --json`` print,
and what an HTTP server or a worker reports, from one place.

Everything here reads a run's record and events and returns JSON-ready dicts and lists;
nothing prints. :func:`spans` is the run's timeline (one span per step attempt);
:func:`run_status` is the status a person should see (``running (stale)`` for a run
whose process is gone).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from plait.core import mask_url
from plait.runtime import (
    Event,
    InputRequested,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunRecord,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepStarted,
    encode_event,
    is_stale,
)

STALE = "running (stale)"
"""The status shown for a run stored as running whose process is gone."""

SpanStatus = Literal[
    "completed", "failed", "retried", "cancelled", "waiting", "running", "interrupted"
]
"""``retried``: this attempt failed and the step ran again; ``cancelled``: the run ended
(another step failed) while this attempt still ran; ``waiting``: the attempt stopped in
``ask()`` for a person's answer; ``running``: it runs now, in a live process;
``interrupted``: the process running it is gone (resume runs it again)."""


def jsonable(value: Any) -> Any:
    """``value`` as JSON data (``repr`` for what has no JSON form; NaN as null; bytes as
    text, or base64 when they are not UTF-8)."""
    from pydantic_core import to_jsonable_python

    try:
        return to_jsonable_python(value, fallback=repr, inf_nan_mode="null")
    except Exception:
        pass
    try:  # bytes that are not UTF-8 (pydantic's default form): base64 instead
        return to_jsonable_python(value, fallback=repr, inf_nan_mode="null", bytes_mode="base64")
    except Exception:
        return repr(value)


def is_live(record: RunRecord, now: float | None = None) -> bool:
    """Whether a process runs ``record`` now (stored as running, its lease held)."""
    return record.status == "running" and not is_stale(record, time.time() if now is None else now)


def run_status(record: RunRecord, now: float | None = None) -> str:
    """The stored status, or :data:`STALE` for a running run whose process is gone."""
    if record.status == "running" and not is_live(record, now):
        return STALE
    return record.status


def record_doc(record: RunRecord, now: float | None = None) -> dict[str, Any]:
    """The record as JSON data, with ``stale`` (a running run whose process is gone)."""
    doc = {k: jsonable(v) for k, v in dataclasses.asdict(record).items()}
    doc["stale"] = run_status(record, now) == STALE
    return doc


def run_output(events: Iterable[Event]) -> Any:
    """What the run returned: the output its ``RunCompleted`` carries (else ``None``)."""
    output = None
    for event in events:
        if isinstance(event, RunCompleted):
            output = event.output
    return output


def run_duration(events: Sequence[Event]) -> float:
    """Seconds the run took: ``RunCompleted.duration``, else first to last event."""
    for event in reversed(events):
        if isinstance(event, RunCompleted):
            return event.duration
    return events[-1].ts - events[0].ts if events else 0.0


@dataclass(frozen=True, slots=True)
class Span:
    """One attempt of one step invocation, in milliseconds from the start of the run."""

    step: str
    invocation: int
    attempt: int
    start_ms: float
    duration_ms: float
    status: SpanStatus

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "invocation": self.invocation,
            "attempt": self.attempt,
            "start_ms": round(self.start_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "status": self.status,
        }


def spans(events: Iterable[Event], *, live: bool = False) -> list[Span]:
    """The run's step attempts in the order they started. An attempt the log does not
    end is ``cancelled`` when the run ended, ``running`` when ``live`` (a process runs
    the run now), else ``interrupted``."""
    t0: float | None = None
    last = 0.0
    ended = False
    open_: dict[tuple[str, int], tuple[int, int, float]] = {}  # -> (row, attempt, start)
    rows: list[Span | None] = []
    for event in events:
        t0 = event.ts if t0 is None else t0
        last = event.ts
        if isinstance(event, RunStarted):
            t0 = event.ts
        elif isinstance(event, RunCompleted | RunFailed | RunCancelled):
            ended = True
        elif isinstance(event, StepStarted):
            ended = False  # a resumed run goes on
            open_[(event.step, event.invocation)] = (len(rows), event.attempt, event.ts)
            rows.append(None)
        elif isinstance(event, InputRequested):
            opened = open_.pop((event.step, event.invocation), None)
            if opened is not None:
                row, attempt, ts = opened
                start = (ts - t0) * 1000
                duration = (event.ts - ts) * 1000
                rows[row] = Span(event.step, event.invocation, attempt, start, duration, "waiting")
        elif isinstance(event, StepCompleted | StepFailed):
            opened = open_.pop((event.step, event.invocation), None)
            if opened is None:
                continue
            row, attempt, ts = opened
            status: SpanStatus = "completed"
            if isinstance(event, StepFailed):
                status = "retried" if event.retrying else "failed"
            start = (ts - t0) * 1000
            rows[row] = Span(
                event.step, event.invocation, attempt, start, event.duration * 1000, status
            )
    unended: SpanStatus = "cancelled" if ended else "running" if live else "interrupted"
    until = time.time() if unended == "running" else last
    for (step, invocation), (row, attempt, ts) in open_.items():
        start = (ts - (t0 or ts)) * 1000
        rows[row] = Span(step, invocation, attempt, start, (until - ts) * 1000, unended)
    return [r for r in rows if r is not None]


def run_doc(
    record: RunRecord, events: Sequence[Event], *, now: float | None = None
) -> dict[str, Any]:
    """A stored run as ``plait runs show --json`` prints it: ``record``, ``status`` (as
    :func:`run_status`), ``output`` (of a completed run), ``steps`` (:func:`spans`) and
    ``events``."""
    now = time.time() if now is None else now
    return {
        "record": record_doc(record, now),
        "status": run_status(record, now),
        "output": jsonable(run_output(events)) if record.status == "completed" else None,
        "steps": [s.to_dict() for s in spans(events, live=is_live(record, now))],
        "events": [encode_event(e) for e in events],
    }


def outcome_doc(
    events: Sequence[Event],
    *,
    flow: str,
    output: Any = None,
    state: Any = None,
    error: BaseException | None = None,
    failed_step: str = "",
    waiting_for: Sequence[Mapping[str, Any]] = (),
    duration: float | None = None,
    store: str | None = None,
    usage: Any = None,
) -> dict[str, Any]:
    """What a run this process ran ended with, as ``plait run --json`` prints it:
    ``run_id, flow, status, output, state, duration_s, steps, usage, error,
    waiting_for, store`` (the store URL with its password masked)."""
    waiting = bool(waiting_for)
    status = "completed" if error is None else "waiting" if waiting else "failed"
    problem = None
    if error is not None and not waiting:
        problem = {
            "type": type(error).__name__,
            "message": str(error),
            "step": failed_step or None,
        }
    seconds = run_duration(events) if duration is None else duration
    return {
        "run_id": events[0].run_id if events else "",
        "flow": flow,
        "status": status,
        "output": jsonable(output),
        "state": jsonable(state),
        "duration_s": round(seconds, 6),
        "steps": [s.to_dict() for s in spans(events)],
        "usage": usage,
        "error": problem,
        "waiting_for": list(waiting_for),
        "store": None if store is None else mask_url(store),
    }
