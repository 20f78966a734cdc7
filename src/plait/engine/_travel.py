"""Time travel over stored runs: list checkpoints, read the state at one, diff two.
Forking a run from a checkpoint, and rerunning one step of it, are in ``_fork``.

A checkpoint is a point in a run's log where a step had completed: the ``seq`` of its
``StepCompleted`` event (and ``seq`` 1, ``RunStarted``, the run's start). Rolling a run
back is forking it at an earlier checkpoint; the original run is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from plait.core import RunError, StoreError
from plait.engine._backends import owned_store
from plait.engine._log import StoredRun, load_run
from plait.runtime import (
    Event,
    RunStarted,
    StateChanged,
    StateSnapshot,
    StepCompleted,
    Store,
)

__all__ = ["MISSING", "Checkpoint", "checkpoints", "diff", "state_at"]


class _Missing:
    """The value of a key a state does not hold (in :func:`diff`)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
"""Stands for a key that one side of a :func:`diff` does not hold."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A point of a run's log that a fork can start from."""

    seq: int
    step: str
    """The step that completed there; ``""`` for the run's start (``seq`` 1)."""
    invocation: int
    ts: float


async def stored_log(store: Store, run_id: str, flow: str | None = None) -> StoredRun:
    """The run (of ``flow``, if given), whose log must begin with ``RunStarted``."""
    found = await load_run(store, run_id, flow=flow, started=True)
    if not found.events:
        raise StoreError(
            f"the stored log of run {run_id} is empty (the run never started, or its log "
            "is truncated); it has no checkpoints"
        )
    return found


async def stored_events(store: Any, run_id: str) -> list[Event]:
    async with owned_store(store) as the_store:
        return (await stored_log(the_store, run_id)).events


def log_checkpoints(events: list[Event]) -> list[Checkpoint]:
    out = [Checkpoint(seq=events[0].seq, step="", invocation=0, ts=events[0].ts)]
    for event in events:
        if isinstance(event, StepCompleted):
            out.append(Checkpoint(event.seq, event.step, event.invocation, event.ts))
    return out


def check_seq(run_id: str, events: list[Event], seq: int) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise RunError(f"seq must be an event number (int), got {seq!r}", run_id=run_id)
    last = events[-1].seq
    if not events[0].seq <= seq <= last:
        raise RunError(
            f"run {run_id} has no event {seq}: its log holds events {events[0].seq} to "
            f"{last}; list its checkpoints with checkpoints({run_id!r}, store=...)",
            run_id=run_id,
        )


def state_after(events: list[Event], seq: int) -> dict[str, Any]:
    """The state after event ``seq``: from the last full state at or before it (the
    run's start, or a periodic ``StateSnapshot``), then the patches after that."""
    base = 0
    for i, event in enumerate(events):
        if event.seq > seq:
            break
        if isinstance(event, RunStarted | StateSnapshot):
            base = i
    state: dict[str, Any] = {}
    for event in events[base:]:
        if event.seq > seq:
            break
        if isinstance(event, RunStarted | StateSnapshot):
            state = dict(event.state)
        elif isinstance(event, StateChanged):
            state.update(event.changes)
            for key in event.removed:
                state.pop(key, None)
    return state


async def checkpoints(run_id: str, *, store: Any = None) -> list[Checkpoint]:
    """The run's checkpoints in log order: its start (``seq`` 1), then one per
    completed step."""
    return log_checkpoints(await stored_events(store, run_id))


async def state_at(run_id: str, seq: int, *, store: Any = None) -> dict[str, Any]:
    """The run's state right after its event ``seq`` (a :class:`RunError` for a
    ``seq`` outside its log)."""
    events = await stored_events(store, run_id)
    check_seq(run_id, events, seq)
    return state_after(events, seq)


async def diff(run_id: str, a: int, b: int, *, store: Any = None) -> dict[str, tuple[Any, Any]]:
    """The keys whose value differs between the states after events ``a`` and ``b``:
    ``key -> (value at a, value at b)``, with :data:`MISSING` where a side lacks it."""
    events = await stored_events(store, run_id)
    check_seq(run_id, events, a)
    check_seq(run_id, events, b)
    old, new = state_after(events, a), state_after(events, b)
    out: dict[str, tuple[Any, Any]] = {}
    for key in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(key, MISSING), new.get(key, MISSING)
        if before is MISSING or after is MISSING or before != after:
            out[key] = (before, after)
    return out
