"""Human input: ``ask()`` inside a step, and what a run waiting for an answer needs.

A step that asks for something nobody has answered yet stops: its ``ask()`` raises
:class:`InputNeeded` (a ``BaseException``, so a step's ``except Exception`` does not
swallow it), the run records ``InputRequested`` and goes on with whatever else can run,
then stops with ``RunWaiting``. Once an answer is stored (``InputReceived``), resuming
the run runs the step again from its start, and that ``ask()`` returns the answer — the
way LangGraph's ``interrupt()`` works. Code before an ``ask()`` therefore runs again:
keep side effects after it, or in an earlier step.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from plait.core import InputError, InputTimeoutError, StepError, WaitingForInput
from plait.define import NO_DEFAULT
from plait.runtime._events import Event, InputReceived, InputRequested

if TYPE_CHECKING:
    from plait.runtime._context import StepContext


class InputNeeded(BaseException):
    """Raised by ``ask()`` to stop the step until a person answers."""

    def __init__(
        self, key: int, prompt: str, schema: dict[str, Any], timeout: float | None, default: Any
    ) -> None:
        super().__init__(prompt)
        self.key = key
        self.prompt = prompt
        self.schema = schema
        self.timeout = timeout
        self.default = default


@lru_cache(maxsize=256)
def _adapter(schema: Any) -> TypeAdapter[Any]:
    return TypeAdapter(schema)


def _adapter_for(schema: Any) -> TypeAdapter[Any]:
    try:
        return _adapter(schema)
    except TypeError:  # unhashable: build one each time
        return TypeAdapter(schema)


def json_schema(schema: Any) -> dict[str, Any]:
    """The JSON schema answers must fit: {} (anything) for ``None``."""
    if schema is None:
        return {}
    try:
        return _adapter_for(schema).json_schema()
    except Exception as exc:
        raise InputError(
            f"ask(schema={schema!r}): pydantic cannot describe it as a JSON schema ({exc}); "
            "use a pydantic model, a plain type such as bool or int, or Literal[...]"
        ) from exc


async def ask(
    ctx: StepContext, prompt: str, schema: Any, timeout: float | None, default: Any
) -> Any:
    """The answer to ``prompt`` (validated into ``schema``), or stop the step to wait."""
    if not isinstance(prompt, str) or not prompt:
        raise InputError(f"ask() needs a non-empty prompt string, got {prompt!r}")
    if timeout is not None and not timeout > 0:
        raise InputError(f"ask(timeout=...) must be a number of seconds > 0, got {timeout!r}")
    ctx.asks += 1
    key = ctx.asks
    answer = ctx.loop.view.answers.get((ctx.step, ctx.invocation, key))
    if answer is None:
        raise InputNeeded(key, prompt, json_schema(schema), timeout, default)
    if answer.timed_out and default is NO_DEFAULT:
        raise InputTimeoutError(
            f"flow {ctx.flow!r}, run {ctx.run_id}: step {ctx.step!r} asked {prompt!r} and "
            "nobody answered before its timeout; give ask() a default=... to go on without "
            "an answer",
            flow=ctx.flow,
            run_id=ctx.run_id,
            step=ctx.step,
            attempt=ctx.attempt,
        )
    value = answer.value
    if answer.timed_out and default is not NO_DEFAULT:
        value = default
    if schema is None:
        return value
    try:
        return _adapter_for(schema).validate_python(value)
    except ValidationError as exc:
        raise StepError(
            f"flow {ctx.flow!r}, run {ctx.run_id}: the stored answer to {prompt!r} does not "
            f"fit the schema step {ctx.step!r} asks for now (did the code change?): {exc}",
            flow=ctx.flow,
            run_id=ctx.run_id,
            step=ctx.step,
            attempt=ctx.attempt,
        ) from exc


def requested(ctx: StepContext, signal: InputNeeded) -> dict[str, Any]:
    """The fields of the ``InputRequested`` event for ``signal``."""
    has_default = signal.default is not NO_DEFAULT
    return {
        "step": ctx.step,
        "invocation": ctx.invocation,
        "key": signal.key,
        "prompt": signal.prompt,
        "schema": signal.schema,
        "deadline": None if signal.timeout is None else time.time() + signal.timeout,
        "default": signal.default if has_default else None,
        "has_default": has_default,
    }


def pending(events: Iterable[Event]) -> list[InputRequested]:
    """The requests in a log that have no answer yet, in the order they were made."""
    open_: dict[tuple[str, int, int], InputRequested] = {}
    for event in events:
        if type(event) is InputRequested:
            open_[(event.step, event.invocation, event.key)] = event
        elif type(event) is InputReceived:
            open_.pop((event.step, event.invocation, event.key), None)
    return list(open_.values())


def describe(request: InputRequested) -> dict[str, Any]:
    """A request as the plain dict ``WaitingForInput.requests`` holds."""
    return {
        "key": f"{request.step}:{request.invocation}:{request.key}",
        "step": request.step,
        "prompt": request.prompt,
        "schema": request.schema,
        "deadline": request.deadline,
    }


def waiting_error(flow: str, run_id: str, requests: list[InputRequested]) -> WaitingForInput:
    asked = "; ".join(f"step {r.step!r} asks {r.prompt!r}" for r in requests)
    return WaitingForInput(
        f"run {run_id} of {flow!r} is waiting for input: {asked}. Answer with "
        f"plait runs respond {run_id} --value ...  or  respond({run_id!r}, value); "
        "that resumes the run",
        flow=flow,
        run_id=run_id,
        requests=[describe(r) for r in requests],
    )
