"""Step definitions and the ``@start``, ``@listen`` and ``@router`` decorators."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from plait.core import DefinitionError
from plait.define._policies import CachePolicy, RetryPolicy, StepOptions, cache_policy
from plait.define._triggers import Condition, to_condition

F = TypeVar("F", bound=Callable[..., Any])
StepKind = Literal["step", "router"]

STEP_ATTR = "__plait_step__"
_DEFAULT_OPTIONS = StepOptions()
UNAPPLIED_ATTR = "__plait_unapplied__"


@dataclass(frozen=True, slots=True)
class StepDef:
    """A step as the user defined it, before compile() checks the whole graph.

    ``takes_input`` says whether the function takes a positional parameter besides
    ``self`` (flows): a listener that takes one receives the output that triggered it.
    ``depends_on`` names a workflow task's dependencies.
    """

    name: str
    fn: Callable[..., Any]
    kind: StepKind = "step"
    start: bool = False
    condition: Condition | None = None
    options: StepOptions = field(default_factory=StepOptions)
    is_async: bool = False
    takes_input: bool = False
    depends_on: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """Where the code lives, ``module:qualname``: the function's, or for a callable
        object without them (``functools.partial``, an instance with ``__call__``) its
        type's."""
        fn = self.fn
        module = getattr(fn, "__module__", None)
        qualname = getattr(fn, "__qualname__", None)
        if not (isinstance(module, str) and isinstance(qualname, str)):
            module, qualname = type(fn).__module__, type(fn).__qualname__
        return f"{module}:{qualname}"


def positional_arity(fn: Callable[..., Any], *, skip_self: bool) -> int:
    """How many positional arguments ``fn`` accepts (``-1`` for ``*args``)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 0
    params = list(sig.parameters.values())
    if skip_self and params:
        params = params[1:]
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return -1
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def is_async_callable(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - objects with async __call__
    )


def _options(
    retry: RetryPolicy | int | None,
    timeout: float | None,
    max_calls: int | None,
    writes: list[str] | tuple[str, ...] | None,
    labels: list[str] | tuple[str, ...] | None = None,
    cache: CachePolicy | bool | float | None = None,
) -> StepOptions:
    policy = cache_policy(cache)
    if isinstance(retry, int) and not isinstance(retry, bool):
        retry = RetryPolicy(attempts=retry)
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise DefinitionError(f"retry must be a RetryPolicy or an int, got {retry!r}")
    plain = (retry, timeout, max_calls, writes, labels, policy) == (None,) * 6
    if plain:
        return _DEFAULT_OPTIONS  # shared: large task graphs would make one per task
    return StepOptions(
        retry=retry,
        timeout=timeout,
        max_calls=max_calls,
        writes=None if writes is None else tuple(writes),
        labels=None if labels is None else tuple(labels),
        cache=policy,
    )


def _mark(
    kind: StepKind, start: bool, condition: object | None, options: StepOptions
) -> Callable[[F], F]:
    cond = None if condition is None else to_condition(condition)

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise DefinitionError(f"@{'start' if start else kind} must decorate a function")
        if getattr(fn, STEP_ATTR, None) is not None:
            raise DefinitionError(
                f"{fn.__name__!r} has two step decorators; use one, and or_()/and_() to "
                "combine conditions"
            )
        step = StepDef(
            name=fn.__name__,
            fn=fn,
            kind=kind,
            start=start,
            condition=cond,
            options=options,
            is_async=is_async_callable(fn),
            takes_input=positional_arity(fn, skip_self=True) != 0,
        )
        setattr(fn, STEP_ATTR, step)
        return fn

    setattr(decorate, UNAPPLIED_ATTR, "start" if start else kind)
    return decorate


def start(
    condition: object | None = None,
    *,
    retry: RetryPolicy | int | None = None,
    timeout: float | None = None,
    max_calls: int | None = None,
    writes: list[str] | tuple[str, ...] | None = None,
    cache: CachePolicy | bool | float | None = None,
) -> Callable[[F], F]:
    """Mark an entry step. Every start step runs, concurrently, when a run begins.

    With ``condition`` (a step, label or ``or_``/``and_``) the step also fires whenever the
    condition holds later in the run.
    """
    return _mark("step", True, condition, _options(retry, timeout, max_calls, writes, None, cache))


def listen(
    condition: object,
    *,
    retry: RetryPolicy | int | None = None,
    timeout: float | None = None,
    max_calls: int | None = None,
    writes: list[str] | tuple[str, ...] | None = None,
    cache: CachePolicy | bool | float | None = None,
) -> Callable[[F], F]:
    """Run the decorated step each time ``condition`` holds.

    ``condition`` is a step (its function or name), a router label, or ``or_``/``and_``
    of those. A listener with a positional parameter receives the triggering output.
    """
    if condition is None:
        raise DefinitionError(
            "@listen() needs something to listen to: a step, a step name, a router label, or "
            "or_()/and_() of those"
        )
    return _mark("step", False, condition, _options(retry, timeout, max_calls, writes, None, cache))


def router(
    condition: object,
    *,
    labels: list[str] | tuple[str, ...] | None = None,
    retry: RetryPolicy | int | None = None,
    timeout: float | None = None,
    max_calls: int | None = None,
    writes: list[str] | tuple[str, ...] | None = None,
    cache: CachePolicy | bool | float | None = None,
) -> Callable[[F], F]:
    """Like ``@listen``, but the step returns a label; steps listening to it run next.

    ``labels`` declares the labels it may return; without it plait reads them from the
    function's ``return "label"`` statements and ``Literal[...]`` return annotation.
    """
    return _mark(
        "router", False, condition, _options(retry, timeout, max_calls, writes, labels, cache)
    )
