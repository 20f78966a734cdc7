"""Functions for use inside any step (flow methods, workflow tasks)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any

from plait.define import NO_DEFAULT
from plait.runtime import StepContext, current_context


def context() -> StepContext:
    """The running step's context (run id, step, invocation, attempt, state)."""
    return current_context()


def emit(name: str, payload: Any = None) -> None:
    """Fire the steps listening with ``on_event(name)``."""
    current_context().emit(name, payload)


async def map(
    fn: Callable[[Any], Any], items: Iterable[Any], *, concurrency: int | None = None
) -> builtins.list[Any]:
    """``fn`` over ``items`` inside the running step, at most ``concurrency`` at a time;
    results in the order of ``items``; each finished item is recorded in the run."""
    return await current_context().map(fn, items, concurrency)


async def ask(
    prompt: str, *, schema: Any = None, timeout: float | None = None, default: Any = NO_DEFAULT
) -> Any:
    """A person's answer to ``prompt`` from inside the running step; see
    :meth:`plait.StepContext.ask`. Until it is answered the run waits (status
    ``waiting``, :class:`plait.WaitingForInput`); ``respond()`` answers and resumes it."""
    return await current_context().ask(prompt, schema=schema, timeout=timeout, default=default)
