"""Building blocks the pattern helpers share: user functions lifted into workflow tasks.

A pattern is an ordinary :class:`~plait.Workflow`. Its first task reads the run input
``data`` (``wf.run({"data": value})``); every other task receives the outputs of the tasks
it depends on. ``lift`` wraps a user function (sync or async) into such a task, keeping
its kind: an ``async def`` stays on the event loop, a ``def`` runs in a worker thread.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from plait.core import DefinitionError
from plait.define import is_async_callable

INPUT = "data"
"""The run input the first task of a pattern reads: ``wf.run({"data": ...})``."""

_NAMING = ("__module__", "__name__", "__qualname__", "__doc__")
"""Copied from the user's function onto its task (not ``__wrapped__``: the task's own
signature is what the engine must read)."""

Prepare = Callable[[Mapping[str, Any]], Any]
Finish = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def describe(fn: Callable[..., Any]) -> str:
    """A short name for a user function, for messages."""
    return getattr(fn, "__name__", None) or repr(fn)


def require_callable(owner: str, what: str, fn: object) -> Callable[..., Any]:
    if not callable(fn):
        raise DefinitionError(f"{owner}: {what} must be a function, got {fn!r}")
    return fn


def check_concurrency(owner: str, concurrency: int | None) -> None:
    """``concurrency`` is ``None`` (no bound) or a positive int, else a DefinitionError."""
    if concurrency is None:
        return
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise DefinitionError(f"{owner}: concurrency must be >= 1 or None, got {concurrency!r}")


def lift(
    fn: Callable[..., Any],
    prepare: Prepare,
    finish: Finish = _same,
    *,
    reads_input: bool = False,
) -> Callable[..., Any]:
    """A task calling ``finish(fn(prepare(upstream)))``.

    ``upstream`` maps each dependency's name to its output; with ``reads_input`` the task
    has no dependencies and takes the run input ``data`` instead (a missing ``data`` makes
    the engine fail the step with a message naming it).
    """

    async def run_async(**upstream: Any) -> Any:
        return finish(await fn(prepare(upstream)))

    def run_sync(**upstream: Any) -> Any:
        return finish(fn(prepare(upstream)))

    task: Callable[..., Any] = run_async if is_async_callable(fn) else run_sync
    if reads_input:
        param = inspect.Parameter(INPUT, inspect.Parameter.KEYWORD_ONLY)
        task.__signature__ = inspect.Signature([param])  # type: ignore[attr-defined]
    if isinstance(getattr(fn, "__module__", None), str):  # the step's ref names fn
        for attr in _NAMING:
            value = getattr(fn, attr, None)
            if isinstance(value, str):
                setattr(task, attr, value)
    return task


def upstream_of(name: str) -> Prepare:
    """``prepare`` for a task that takes the output of the task ``name`` (or ``data``)."""

    def pick(upstream: Mapping[str, Any]) -> Any:
        return upstream[name]

    return pick


def items_of(owner: str, what: str, value: Any) -> list[Any]:
    """``value`` as a list of work items, or a TypeError saying what came instead; ``what``
    starts the message (``"scatter must return"``)."""
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"{owner}: {what} a list (or another iterable) of work items, got "
            f"{type(value).__name__} {short(value)}"
        )
    return list(value)


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
