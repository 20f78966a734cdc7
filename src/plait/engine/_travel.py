"""Time travel over stored runs: list checkpoints, read the state at one, diff two,
and fork a new run from one (with an edited state) that ``resume`` then goes on with.

A checkpoint is a point in a run's log where a step had completed: the ``seq`` of its
``StepCompleted`` event (and ``seq`` 1, ``RunStarted``, the run's start). Rolling a run
back is forking it at an earlier checkpoint; the original run is never changed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from plait.core import InputError, RunError, StoreError, new_run_id
from plait.engine._backends import owned_store
from plait.engine._inputs import state_type_of
from plait.engine._log import StoredRun, load_run
from plait.plan import Plan, compile
from plait.runtime import (
    Event,
    EventEmitted,
    RouteTaken,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunRecord,
    RunResumed,
    RunStarted,
    RunWaiting,
    StateChanged,
    StateSnapshot,
    StepCompleted,
    StepStarted,
    Store,
    TriggerIndex,
)

__all__ = ["MISSING", "Checkpoint", "checkpoints", "diff", "fork", "rerun_from", "state_at"]


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


async def _log(store: Store, run_id: str, flow: str | None = None) -> StoredRun:
    """The run (of ``flow``, if given), whose log must begin with ``RunStarted``."""
    found = await load_run(store, run_id, flow=flow, started=True)
    if not found.events:
        raise StoreError(
            f"the stored log of run {run_id} is empty (the run never started, or its log "
            "is truncated); it has no checkpoints"
        )
    return found


async def _with_log(store: Any, run_id: str) -> list[Event]:
    async with owned_store(store) as the_store:
        return (await _log(the_store, run_id)).events


def _checkpoints(events: list[Event]) -> list[Checkpoint]:
    out = [Checkpoint(seq=events[0].seq, step="", invocation=0, ts=events[0].ts)]
    for event in events:
        if isinstance(event, StepCompleted):
            out.append(Checkpoint(event.seq, event.step, event.invocation, event.ts))
    return out


def _some(seqs: list[int], edge: int = 5) -> str:
    """``seqs`` for a message: all of a short list, the ends of a long one."""
    if len(seqs) <= 2 * edge + 1:
        return ", ".join(map(str, seqs))
    head, tail = ", ".join(map(str, seqs[:edge])), ", ".join(map(str, seqs[-edge:]))
    return f"{head}, …, {tail} ({len(seqs)} in all)"


def _check_seq(run_id: str, events: list[Event], seq: int) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise RunError(f"seq must be an event number (int), got {seq!r}", run_id=run_id)
    last = events[-1].seq
    if not events[0].seq <= seq <= last:
        raise RunError(
            f"run {run_id} has no event {seq}: its log holds events {events[0].seq} to "
            f"{last}; list its checkpoints with checkpoints({run_id!r}, store=...)",
            run_id=run_id,
        )


def _state(events: list[Event], seq: int) -> dict[str, Any]:
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
    return _checkpoints(await _with_log(store, run_id))


async def state_at(run_id: str, seq: int, *, store: Any = None) -> dict[str, Any]:
    """The run's state right after its event ``seq`` (a :class:`RunError` for a
    ``seq`` outside its log)."""
    events = await _with_log(store, run_id)
    _check_seq(run_id, events, seq)
    return _state(events, seq)


async def diff(run_id: str, a: int, b: int, *, store: Any = None) -> dict[str, tuple[Any, Any]]:
    """The keys whose value differs between the states after events ``a`` and ``b``:
    ``key -> (value at a, value at b)``, with :data:`MISSING` where a side lacks it."""
    events = await _with_log(store, run_id)
    _check_seq(run_id, events, a)
    _check_seq(run_id, events, b)
    old, new = _state(events, a), _state(events, b)
    out: dict[str, tuple[Any, Any]] = {}
    for key in [*old, *(k for k in new if k not in old)]:
        before, after = old.get(key, MISSING), new.get(key, MISSING)
        if before is MISSING or after is MISSING or before != after:
            out[key] = (before, after)
    return out


def _renamed(value: Any, old_id: str, new_id: str) -> Any:
    """``value`` with the state's ``id`` moved to the fork's run id."""
    if isinstance(value, dict) and value.get("id") == old_id:
        return {**value, "id": new_id}
    return value


async def fork(
    definition: Any,
    run_id: str,
    seq: int,
    *,
    store: Any = None,
    state_changes: Mapping[str, Any] | None = None,
) -> str:
    """A new run of ``definition`` holding ``run_id``'s log up to its checkpoint ``seq``
    (then ``state_changes``, if given): its id. It does not run it: ``await
    definition.resume_async(new_id, store=...)`` goes on from there, without running
    again the steps completed by then. ``run_id`` itself is not changed."""
    plan = compile(definition)
    async with owned_store(store) as the_store:
        found = await _log(the_store, run_id, plan.name)
        record, events = found.record, found.events
        _check_seq(run_id, events, seq)
        marks = {c.seq for c in _checkpoints(events)}
        if seq not in marks:
            raise RunError(
                f"event {seq} of run {run_id} is not a checkpoint (a completed step or the "
                f"run's start); its checkpoints are {_some(sorted(marks))}",
                flow=plan.name,
                run_id=run_id,
            )
        kept = [e for e in events if e.seq <= seq]
        last = kept[-1]
        for event in events[len(kept) :]:  # a router's label goes with its completion
            if (
                isinstance(event, RouteTaken)
                and isinstance(last, StepCompleted)
                and (event.step, event.invocation) == (last.step, last.invocation)
            ):
                kept.append(event)
            break
        extra = {} if not state_changes else dict(state_changes)
        if extra:
            extra = _fitting(definition, plan.name, run_id, _state(kept, kept[-1].seq), extra)
        return await _copy_run(the_store, record, kept, extra)


def _state_model(definition: Any) -> Any:
    """The pydantic model of ``definition``'s state, or ``None`` (a dict state)."""
    model = state_type_of(definition)
    if model is None or not hasattr(model, "model_validate"):
        return None
    return model


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def _fitting(
    definition: Any, flow: str, run_id: str, state: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """``changes`` as the state model holds them (``"7"`` for an int field: ``7``), or an
    InputError naming the key and the type it expects, when the state ``changes`` make
    of ``state`` is not one the flow's state model accepts. A dict state takes anything."""
    model = _state_model(definition)
    if model is None:
        return changes
    from pydantic import ValidationError

    fields = model.model_fields
    if model.model_config.get("extra") != "allow":
        unknown = [k for k in changes if k not in fields and k != "id"]
        if unknown:
            raise InputError(
                f"fork of run {run_id} of {flow!r}: the state model {model.__name__} has no "
                f"state key {', '.join(repr(k) for k in unknown)}; its fields are "
                f"{', '.join(repr(f) for f in fields)}. Nothing was stored"
            )
    try:
        fitted = model.model_validate({**state, **changes})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            field = fields.get(key)
            expects = f" expects {_type_name(field.annotation)}" if field is not None else ""
            where = ".".join(str(p) for p in err["loc"])
            problems.append(f"state key {where!r}{expects}, got {err.get('input')!r}: {err['msg']}")
        raise InputError(
            f"fork of run {run_id} of {flow!r}: the edited state does not fit the state "
            f"model {model.__name__}: {'; '.join(problems)}. Nothing was stored"
        ) from None
    held = fitted.model_dump(mode="json")
    return {k: held.get(k, v) for k, v in changes.items()}


async def _copy_run(
    store: Store, record: RunRecord, kept: list[Event], state_changes: dict[str, Any] | None = None
) -> str:
    """Store ``kept`` (renumbered from 1) as the log of a new run like ``record``; then
    ``state_changes`` as one more StateChanged. Returns the new run's id."""
    run_id, new_id = record.run_id, new_run_id()
    copied: list[Event] = []
    for seq, event in enumerate(kept, start=1):
        changes: dict[str, Any] = {"run_id": new_id, "seq": seq}
        if isinstance(event, RunStarted | StateSnapshot):
            changes["state"] = _renamed(event.state, run_id, new_id)
        copied.append(dataclasses.replace(event, **changes))
    if state_changes:
        copied.append(
            StateChanged(
                run_id=new_id,
                seq=copied[-1].seq + 1,
                ts=time.time(),
                step="fork",
                changes=dict(state_changes),
            )
        )
    now = time.time()
    await store.create_run(
        RunRecord(
            run_id=new_id,
            flow=record.flow,
            status="running",
            created_at=now,
            updated_at=now,
            inputs=dict(record.inputs),
            plan=record.plan,
        )
    )
    try:
        await store.append(new_id, copied)
    except BaseException:
        await store.delete_run(new_id)
        raise
    return new_id


def _listeners(index: TriggerIndex, key: tuple[str, str]) -> set[str]:
    found = set(index.direct.get(key, ()))
    found.update(name for name, _ in index.joins.get(key, ()))
    found.update(name for name, _ in index.nested.get(key, ()))
    return found


def _downstream(plan: Plan, index: TriggerIndex, step: str) -> set[str]:
    """``step`` and every step its completion (or its labels, for a router) can set off."""
    labels = {s.name: s.labels or () for s in plan.steps}
    out: set[str] = set()
    todo = [step]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        keys = [("step", name), *(("label", label) for label in labels.get(name, ()))]
        for key in keys:
            todo.extend(_listeners(index, key) - out)
    return out


_RUN_LEVEL = (RunCompleted, RunFailed, RunCancelled, RunResumed, RunWaiting)


def _rerun_log(
    plan: Plan, index: TriggerIndex, events: list[Event], step: str, invocation: int
) -> list[Event]:
    """The log of a run that has done all ``events`` did except ``step``'s invocation
    ``invocation`` and what it set off, which becomes in flight (to run again)."""
    start = next(
        (
            e
            for e in events
            if isinstance(e, StepStarted)
            and (e.step, e.invocation, e.attempt) == (step, invocation, 1)
        ),
        None,
    )
    if start is None:
        ran = sorted({(e.step, e.invocation) for e in events if isinstance(e, StepStarted)})
        names = ", ".join(f"{s}#{i}" for s, i in ran) or "none"
        raise RunError(
            f"step {step!r} invocation {invocation} never started in run "
            f"{events[0].run_id}; the steps that started are: {names}",
            flow=plan.name,
            run_id=events[0].run_id,
        )
    gone = _downstream(plan, index, step)
    kept = [e for e in events if e.seq < start.seq]
    kept.append(start)
    for event in events:
        if event.seq <= start.seq or isinstance(event, _RUN_LEVEL):
            continue
        owner = getattr(event, "step", None)
        if owner in gone:
            if isinstance(event, EventEmitted):  # what it emitted goes too, with its takers
                for listener in _listeners(index, ("event", event.name)):
                    gone |= _downstream(plan, index, listener)
            continue
        kept.append(event)
    return kept


async def rerun_from(
    definition: Any,
    run_id: str,
    step: str,
    *,
    invocation: int = 1,
    store: Any = None,
) -> str:
    """A new run that reuses every result of ``run_id`` except ``step`` (its invocation
    ``invocation``) and what depends on it, which run again when the new run is resumed:
    after fixing a step's code, ``await flow.resume_async(rerun_from(...))`` pays only for
    that step and what comes after it. Steps that do not depend on ``step`` keep their
    results, even those that ran after it. ``run_id`` itself is not changed."""
    plan = compile(definition)
    if step not in {s.name for s in plan.steps}:
        known = ", ".join(s.name for s in plan.steps)
        raise RunError(
            f"{plan.kind} {plan.name!r} has no step {step!r}; its steps are: {known}",
            flow=plan.name,
            run_id=run_id,
        )
    async with owned_store(store) as the_store:
        found = await _log(the_store, run_id, plan.name)
        record, events = found.record, found.events
        kept = _rerun_log(plan, TriggerIndex.build(plan), events, step, invocation)
        return await _copy_run(the_store, record, kept)
