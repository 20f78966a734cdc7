"""New runs from a stored one: ``fork`` copies a run's log up to one of its checkpoints
(then, optionally, an edited state), and ``rerun_from`` copies all of it except one
step's invocation and what it set off. ``resume`` then goes on with the new run; the
original run is never changed. Reading checkpoints and states is in ``_travel``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from plait.core import InputError, RunError, new_run_id
from plait.engine._backends import owned_store
from plait.engine._inputs import state_type_of
from plait.engine._travel import check_seq, log_checkpoints, state_after, stored_log
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

__all__ = ["fork", "rerun_from"]


def _some(seqs: list[int], edge: int = 5) -> str:
    """``seqs`` for a message: all of a short list, the ends of a long one."""
    if len(seqs) <= 2 * edge + 1:
        return ", ".join(map(str, seqs))
    head, tail = ", ".join(map(str, seqs[:edge])), ", ".join(map(str, seqs[-edge:]))
    return f"{head}, …, {tail} ({len(seqs)} in all)"


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
        found = await stored_log(the_store, run_id, plan.name)
        record, events = found.record, found.events
        check_seq(run_id, events, seq)
        marks = {c.seq for c in log_checkpoints(events)}
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
            extra = _fitting(definition, plan.name, run_id, state_after(kept, kept[-1].seq), extra)
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
        found = await stored_log(the_store, run_id, plan.name)
        record, events = found.record, found.events
        kept = _rerun_log(plan, TriggerIndex.build(plan), events, step, invocation)
        return await _copy_run(the_store, record, kept)
