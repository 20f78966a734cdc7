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

import asyncio
import contextvars
import inspect
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from plait.core import InputError, InputTimeoutError, StepError, WaitingForInput
from plait.define import NO_DEFAULT, InputResponse
from plait.runtime._events import Event, InputReceived, InputRequested

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from plait.runtime._context import StepContext

log = logging.getLogger("plait")


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
    from pydantic import TypeAdapter  # loaded by the first ask()

    return TypeAdapter(schema)


def _adapter_for(schema: Any) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter  # loaded by the first ask()

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


def _next_key(ctx: StepContext, prompt: str, timeout: float | None) -> int:
    if not isinstance(prompt, str) or not prompt:
        raise InputError(f"ask() needs a non-empty prompt string, got {prompt!r}")
    if timeout is not None and not timeout > 0:
        raise InputError(f"ask(timeout=...) must be a number of seconds > 0, got {timeout!r}")
    ctx.asks += 1
    return ctx.asks


def _stored(
    ctx: StepContext, key: int, prompt: str, schema: Any, timeout: float | None, default: Any
) -> tuple[bool, Any]:
    """(True, the answer) when the run holds one for this ``ask``, else (False, None).

    A stored answer that ``schema`` rejects (it fit the JSON schema, but not the model's
    own validation, or the code changed) is not this step's answer: the step asks again
    (:class:`InputNeeded`), so a corrected answer can be given, rather than failing."""
    from pydantic import ValidationError  # loaded by the first ask()

    answer = ctx.loop.view.answers.get((ctx.step, ctx.invocation, key))
    if answer is None:
        return False, None
    value = answer.value
    if answer.timed_out:
        if default is not NO_DEFAULT:
            value = default
        elif provider_of(ctx.loop.owner) is not None:
            return True, None  # a provider's "no answer", as in CrewAI
        else:
            raise InputTimeoutError(
                f"flow {ctx.flow!r}, run {ctx.run_id}: step {ctx.step!r} asked {prompt!r} "
                "and nobody answered before its timeout; give ask() a default=... to go on "
                "without an answer",
                flow=ctx.flow,
                run_id=ctx.run_id,
                step=ctx.step,
                attempt=ctx.attempt,
            )
    if schema is None:
        return True, value
    try:
        return True, _adapter_for(schema).validate_python(value)
    except ValidationError as exc:
        if answer.timed_out:  # the step's own default does not fit: a bug in the step
            raise StepError(
                f"flow {ctx.flow!r}, run {ctx.run_id}: the default answer to {prompt!r} "
                f"does not fit the schema step {ctx.step!r} asks with: {exc}",
                flow=ctx.flow,
                run_id=ctx.run_id,
                step=ctx.step,
                attempt=ctx.attempt,
            ) from exc
        log.warning(
            "flow %r, run %s: the stored answer to %r does not fit the schema step %r asks "
            "with; it asks again: %s",
            ctx.flow,
            ctx.run_id,
            prompt,
            ctx.step,
            exc,
        )
        raise InputNeeded(key, prompt, json_schema(schema), timeout, default) from None


async def ask(
    ctx: StepContext,
    prompt: str,
    schema: Any,
    timeout: float | None,
    default: Any,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """The answer to ``prompt`` (validated into ``schema``): stored in the run, else from
    the flow's input provider (recorded), else stop the step to wait."""
    key = _next_key(ctx, prompt, timeout)
    found, value = _stored(ctx, key, prompt, schema, timeout, default)
    if found:
        return value
    provider = provider_of(ctx.loop.owner)
    if provider is None:
        raise InputNeeded(key, prompt, json_schema(schema), timeout, default)
    owner = ctx.loop.owner
    text = await asyncio.to_thread(request_input, provider, prompt, owner, metadata, timeout)
    value = fit(text, schema, default, prompt)
    await ctx.record(InputReceived, key=key, value=value, timed_out=text is None)
    return value


def ask_blocking(
    ctx: StepContext,
    prompt: str,
    schema: Any,
    timeout: float | None,
    default: Any,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """:func:`ask` for a ``def`` step: returns the answer, or raises :class:`InputNeeded`
    in the step's thread to wait for one."""
    key = _next_key(ctx, prompt, timeout)
    found, value = _stored(ctx, key, prompt, schema, timeout, default)
    if found:
        return value
    provider = provider_of(ctx.loop.owner)
    if provider is None:
        raise InputNeeded(key, prompt, json_schema(schema), timeout, default)
    text = request_input(provider, prompt, ctx.loop.owner, metadata, timeout)
    value = fit(text, schema, default, prompt)
    fields = {"key": key, "value": value, "timed_out": text is None}
    aio = ctx.loop.aio
    if _running_loop() is aio:  # an executor that runs def steps on the loop's thread
        ctx.loop.record(
            ctx.loop.new(InputReceived, step=ctx.step, invocation=ctx.invocation, **fields)
        )
    else:
        asyncio.run_coroutine_threadsafe(ctx.record(InputReceived, **fields), aio).result()
    return value


def ask_in_step(
    ctx: StepContext,
    prompt: str,
    *,
    timeout: float | None,
    metadata: dict[str, Any] | None,
    schema: Any,
    default: Any,
) -> Any:
    """``Flow.ask()``: the answer in a ``def`` step (it runs in a worker thread), an
    awaitable (:class:`Asking`) in an ``async def`` step, whose thread is the loop's."""
    binding = ctx.loop.bindings.get(ctx.step)
    if _running_loop() is ctx.loop.aio and (binding is None or binding.is_async):
        earlier = _unawaited.get()
        if earlier is not None and not earlier._awaited and earlier._step == ctx.step:
            earlier._awaited = True  # reported here, not again when it is collected
            raise TypeError(
                f"step {ctx.step!r} called self.ask(...) again before awaiting the last "
                "one; in an async def step write  answer = await self.ask(...)"
            )
        asking = Asking(lambda: ask(ctx, prompt, schema, timeout, default, metadata), ctx.step)
        _unawaited.set(asking)  # held, so a dropped one is still seen by the next ask
        return asking
    return ask_blocking(ctx, prompt, schema, timeout, default, metadata)


_unawaited: contextvars.ContextVar[Asking | None] = contextvars.ContextVar(
    "plait_unawaited_ask", default=None
)
"""The last ``Asking`` of the async step running in this context."""


class Asking:
    """What ``self.ask(...)`` gives in an ``async def`` step: await it for the answer.

    Not a coroutine, so one left un-awaited makes no "never awaited" warning. Used as the
    answer (printed, formatted, tested for truth, iterated) it raises a ``TypeError``
    that says to await it; one dropped un-awaited is logged; a second ``ask`` while one
    is un-awaited raises (so ``while self.ask(...) is not None`` cannot spin).
    """

    __slots__ = ("_awaited", "_make", "_step")

    def __init__(self, make: Callable[[], Coroutine[Any, Any, Any]], step: str) -> None:
        self._make = make
        self._step = step
        self._awaited = False

    def __await__(self) -> Generator[Any, None, Any]:
        self._awaited = True
        return self._make().__await__()

    def _misused(self, *_: Any) -> Any:
        self._awaited = True
        raise TypeError(
            f"step {self._step!r} used self.ask(...) without await; in an async def step "
            "write  answer = await self.ask(...)"
        )

    __bool__ = __str__ = __format__ = __iter__ = __len__ = _misused

    def __repr__(self) -> str:
        return f"<plait ask() in step {self._step!r}: await it for the answer>"

    def __del__(self) -> None:
        if not getattr(self, "_awaited", True):
            log.warning(
                "step %r called self.ask(...) without await; in an async def step write "
                "answer = await self.ask(...)",
                getattr(self, "_step", "?"),
            )


def provider_of(owner: Any) -> Any:
    """The input provider of the run's flow, or ``None`` (answers wait durably)."""
    return getattr(owner, "input_provider", None)


def request_input(
    provider: Any, message: str, flow: Any, metadata: dict[str, Any] | None, timeout: float | None
) -> str | None:
    """Ask ``provider`` for its text; ``None`` when it has none, when ``timeout`` runs
    out first, or when it raises (logged), as in CrewAI."""

    def call() -> Any:
        method = provider.request_input
        if _takes_metadata(method):
            return method(message, flow, metadata)
        return method(message, flow)

    try:
        if timeout is None:
            raw = call()
        else:
            box: dict[str, Any] = {}
            done = threading.Event()

            def work() -> None:
                try:
                    box["raw"] = call()
                except BaseException as exc:
                    box["error"] = exc
                finally:
                    done.set()

            # A daemon thread: one still blocked in input() must not hold up the exit.
            context = contextvars.copy_context()
            threading.Thread(
                target=context.run, args=(work,), name="plait-ask", daemon=True
            ).start()
            if not done.wait(timeout):
                return None
            if "error" in box:
                raise box["error"]
            raw = box.get("raw")
    except Exception:
        log.warning("input provider %r failed; ask() answers None", provider, exc_info=True)
        return None
    if isinstance(raw, InputResponse):
        raw = raw.text
    return raw if isinstance(raw, str) else None


def _takes_metadata(method: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return True
    return len(params) >= 3


def fit(text: str | None, schema: Any, default: Any, prompt: str) -> Any:
    """A provider's text as the answer ``ask()`` gives: ``None`` (or ``default``) for no
    answer, else the text, validated into ``schema`` (as a value, then as JSON)."""
    from pydantic import ValidationError  # loaded by the first ask()

    if text is None:
        return None if default is NO_DEFAULT else default
    if schema is None:
        return text
    adapter = _adapter_for(schema)
    try:
        return adapter.validate_python(text)
    except ValidationError:
        pass
    try:
        return adapter.validate_json(text)
    except ValidationError as exc:
        raise InputError(
            f"the input provider's answer to {prompt!r} does not fit the schema: {exc}"
        ) from None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
