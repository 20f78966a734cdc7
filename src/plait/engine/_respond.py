"""Answering a run that waits for a person: check, validate, store the answer.

The answer is checked against the JSON schema the step asked with (the schema is in the
log, so no code is needed to check it) and appended to the run's log as
``InputReceived`` — after the last stored event, so of two answers racing for one request
exactly one is stored. Nothing is stored when any check fails.

With the flow's definition at hand, the answer is also validated with the type the step's
``ask(schema=...)`` names (found among the names the step's code refers to, by its JSON
schema), so an answer that fits the JSON schema but not the model's own validation (a
datetime field, a ``field_validator``) is refused before it is stored. Without it, such an
answer is stored, and the step asks again when it runs (see ``plait.runtime._input``).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import time
from typing import Any

from plait.core import InputError, RunError, StoreError
from plait.engine._log import load_run
from plait.runtime import InputReceived, InputRequested, RunView, Store, pending


def _request_key(request: InputRequested) -> str:
    return f"{request.step}:{request.invocation}:{request.key}"


def _choose(run_id: str, asks: list[InputRequested], request: str | None) -> InputRequested:
    keys = [_request_key(a) for a in asks]
    if request is None:
        if len(asks) == 1:
            return asks[0]
        listed = "; ".join(f"{k} ({a.prompt!r})" for k, a in zip(keys, asks, strict=True))
        raise InputError(
            f"run {run_id} waits for {len(asks)} answers: {listed}. Say which one with "
            "request=... (--request KEY)"
        )
    for key, ask in zip(keys, asks, strict=True):
        if request in (key, ask.step):
            return ask
    raise InputError(
        f"run {run_id} has no open request {request!r}; open requests: {', '.join(keys)}"
    )


def _problems(schema: dict[str, Any], value: Any) -> list[str]:
    if not schema:
        return []
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or 'the value'}: {err.message}"
        for err in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    ]


def _fit(run_id: str, ask: InputRequested, value: Any, text: bool) -> Any:
    """``value`` as JSON data that fits the request's schema, or an InputError. With
    ``text``, ``value`` is a command line's string: JSON if it parses and fits, else the
    string itself."""
    from pydantic_core import to_jsonable_python

    candidates: list[Any] = []
    if text:
        with contextlib.suppress(ValueError):
            candidates.append(json.loads(value))
        candidates.append(value)
    else:
        try:
            candidates.append(to_jsonable_python(value))
        except Exception as exc:
            raise InputError(
                f"run {run_id}: the answer {value!r} cannot be stored as JSON ({exc})"
            ) from exc
    problems: list[str] = []
    for candidate in candidates:
        problems = _problems(ask.schema, candidate)
        if not problems:
            return candidate
    raise InputError(
        f"run {run_id}: the answer to {ask.prompt!r} does not fit its schema "
        f"{json.dumps(ask.schema)}: {'; '.join(problems)}. Nothing was stored; answer again"
    )


def _step_types(definition: Any, step: str) -> list[Any]:
    """The classes that step ``step``'s code refers to by name (globals and closure)."""
    steps = getattr(definition, "__plait_steps__", None) or getattr(
        type(definition), "__plait_steps__", {}
    )
    spec = steps.get(step) if isinstance(steps, dict) else None
    fn = getattr(spec, "fn", None)
    if fn is None:
        return []
    try:
        names = inspect.getclosurevars(inspect.unwrap(fn))
    except (TypeError, ValueError):
        return []
    found = [*names.nonlocals.values(), *names.globals.values()]
    return [t for t in found if isinstance(t, type) and t.__module__ != "builtins"]


def _answer_type(definition: Any, ask: InputRequested) -> Any:
    """The type step ``ask.step`` asked with: the one class its code refers to whose JSON
    schema is the request's, else ``None`` (none, or more than one, matches)."""
    from pydantic import TypeAdapter

    if definition is None or not ask.schema:
        return None
    matches = []
    for candidate in _step_types(definition, ask.step):
        try:
            schema = TypeAdapter(candidate).json_schema()
        except Exception:
            continue
        if schema == ask.schema:
            matches.append(candidate)
    return matches[0] if len(matches) == 1 else None


def _check_type(run_id: str, ask: InputRequested, answer: Any, kind: Any) -> None:
    """An InputError when the step's type ``kind`` rejects ``answer`` (as ``ask()`` would
    when the step runs)."""
    from pydantic import TypeAdapter, ValidationError

    if kind is None:
        return
    try:
        TypeAdapter(kind).validate_python(answer)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'/'.join(str(p) for p in err['loc']) or 'the value'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InputError(
            f"run {run_id}: the answer to {ask.prompt!r} does not fit "
            f"{getattr(kind, '__name__', repr(kind))}, the schema step {ask.step!r} asks "
            f"with: {problems}. Nothing was stored; answer again"
        ) from None


async def record_answer(
    store: Store,
    run_id: str,
    flow: str,
    value: Any,
    *,
    request: str | None = None,
    text: bool = False,
    definition: Any = None,
) -> InputRequested:
    """Store the answer to one open request of waiting run ``run_id``; return the request.

    ``definition`` (the flow or workflow, when at hand) lets the answer be validated with
    the type the step asked with, not only with its JSON schema."""
    found = await load_run(store, run_id, flow=flow or None)
    record, events = found.record, found.events
    if record.status != "waiting":
        raise RunError(
            f"run {run_id} is not waiting for input: its status is {record.status!r}; only "
            "a run that a step's ask() stopped takes an answer",
            flow=record.flow,
            run_id=run_id,
        )
    asks = pending(events)
    if not asks:
        raise RunError(
            f"run {run_id} is marked waiting but every request in its log has an answer; "
            f"resume it (plait runs resume {run_id})",
            flow=record.flow,
            run_id=run_id,
        )
    ask = _choose(run_id, asks, request)
    answer = _fit(run_id, ask, value, text)
    _check_type(run_id, ask, answer, _answer_type(definition, ask))
    event = InputReceived(
        run_id=run_id,
        seq=events[-1].seq + 1,
        ts=time.time(),
        step=ask.step,
        invocation=ask.invocation,
        key=ask.key,
        value=answer,
    )
    try:
        await store.append(run_id, [event])
    except StoreError as exc:
        if not await store.read(run_id, after=events[-1].seq):
            raise
        raise RunError(
            f"run {run_id}: the answer was not stored because the run's log moved on "
            f"meanwhile (another answer or a resume came first): {exc}",
            flow=record.flow,
            run_id=run_id,
        ) from exc
    return ask


def can_go_on(view: RunView, now: float) -> bool:
    """Whether a waiting run has something to run when resumed: an answered request, a
    wait past its deadline, or steps that were running or failed."""
    if view.running or view.failed or view.ready:
        return True
    open_steps = {(a.step, a.invocation) for a in view.asks.values()}
    if any(key not in open_steps for key in view.waiting):
        return True
    return any(a.deadline is not None and a.deadline <= now for a in view.asks.values())
