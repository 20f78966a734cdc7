"""Step definitions and the ``@start``, ``@listen`` and ``@router`` decorators."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from plait.core import DefinitionError
from plait.define._policies import CachePolicy, RetryPolicy, StepOptions, cache_policy
from plait.define._state import TRIGGER_PAYLOAD
from plait.define._triggers import AnyOf, Condition, to_condition

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


def _merge(outer: StepDef, inner: StepDef) -> StepDef:
    """One step from two stacked decorators, where one is ``@router``: a start or
    listener that also routes, as CrewAI's ``@start()`` / ``@listen(x)`` over
    ``@router()``. Conditions of both fire it; options set on either are kept."""
    if "router" not in (outer.kind, inner.kind) or outer.kind == inner.kind:
        raise DefinitionError(
            f"{inner.name!r} has two step decorators; use one, and or_()/and_() to "
            "combine conditions (only @router() may be stacked under @start() or @listen())"
        )
    conds = [c for c in (outer.condition, inner.condition) if c is not None]
    if len(conds) == 2 and conds[0] != conds[1]:
        condition: Condition | None = AnyOf((conds[0], conds[1]))
    else:
        condition = conds[0] if conds else None
    picked = {}
    for option in dataclasses.fields(StepOptions):
        mine, theirs = getattr(outer.options, option.name), getattr(inner.options, option.name)
        picked[option.name] = mine if mine is not None else theirs
    start = outer.start or inner.start
    return StepDef(
        name=inner.name,
        fn=inner.fn,
        kind="router",
        start=start,
        condition=condition,
        options=StepOptions(**picked),
        is_async=inner.is_async,
        takes_input=takes_payload(inner.fn, start=start),
    )


def _mark(
    kind: StepKind, start: bool, condition: object | None, options: StepOptions
) -> Callable[[F], F]:
    cond = None if condition is None else to_condition(condition)

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise DefinitionError(f"@{'start' if start else kind} must decorate a function")
        step = StepDef(
            name=fn.__name__,
            fn=fn,
            kind=kind,
            start=start,
            condition=cond,
            options=options,
            is_async=is_async_callable(fn),
            takes_input=takes_payload(fn, start=start),
        )
        earlier = getattr(fn, STEP_ATTR, None)
        if isinstance(earlier, StepDef):
            step = _merge(step, earlier)
        setattr(fn, STEP_ATTR, step)
        return fn

    setattr(decorate, UNAPPLIED_ATTR, "start" if start else kind)
    return decorate


def takes_payload(fn: Callable[..., Any], *, start: bool) -> bool:
    """Whether a flow method takes the triggering output: a positional parameter besides
    ``self`` (and, for a start step, ``crewai_trigger_payload``, which it gets by name)."""
    try:
        params = list(inspect.signature(fn).parameters.values())[1:]
    except (TypeError, ValueError):
        return False
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return True
        positional = p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        if positional and not (start and p.name == TRIGGER_PAYLOAD):
            return True
    return False


def takes_trigger_payload(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` has a ``crewai_trigger_payload`` parameter (or ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return TRIGGER_PAYLOAD in params


def start(
    condition: object | None = None,
    *,
    retry: RetryPolicy | int | None = None,
    timeout: float | None = None,
    max_calls: int | None = None,
    writes: list[str] | tuple[str, ...] | None = None,
    cache: CachePolicy | bool | float | None = None,
) -> Callable[[F], F]:
    """Mark an entry step, as CrewAI does. When a run begins, every unconditional start
    step runs, concurrently (every start step, when none is unconditional).

    With ``condition`` (a router label, or ``or_``/``and_`` of labels) the step runs when
    the condition holds; next to an unconditional start it does not run at kickoff. A
    start step is called without arguments (its parameters keep their defaults).
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
    condition: object | None = None,
    *,
    labels: list[str] | tuple[str, ...] | None = None,
    emit: list[str] | tuple[str, ...] | str | None = None,
    retry: RetryPolicy | int | None = None,
    timeout: float | None = None,
    max_calls: int | None = None,
    writes: list[str] | tuple[str, ...] | None = None,
    cache: CachePolicy | bool | float | None = None,
) -> Callable[[F], F]:
    """Like ``@listen``, but the step returns a label; steps listening to it run next.

    ``labels`` (or CrewAI's ``emit``) declares the labels it may return; without it plait
    reads them from the function's ``return "label"`` statements and ``Literal[...]``
    return annotation. Without ``condition``, stack it under ``@start()`` or
    ``@listen(x)``: a start step or listener that also routes.
    """
    if emit is not None:
        if labels is not None:
            raise DefinitionError("@router takes labels= or emit= (the same thing), not both")
        labels = [emit] if isinstance(emit, str) else [str(e) for e in emit]
    return _mark(
        "router", False, condition, _options(retry, timeout, max_calls, writes, labels, cache)
    )
