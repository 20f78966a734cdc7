"""What belongs to one run of a definition, not to the definition: the run's scope.

One ``Flow`` instance (or ``Workflow``) may serve many runs at once — a web handler
that keeps a module-level flow and runs it per request. Each run keeps its state, run id
and trigger payload in a :class:`RunScope`, set in a context variable by the engine for
the run's duration: the run's steps (asyncio tasks and threads started inside it inherit
the context) see their own run's ``self.state``, while code outside any run sees the last
run's, as in CrewAI.

Also here: the check behind ``kickoff()``'s keyword-only options, and the helpers that
raise a step's own exception from a failed run.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, TypeVar

from plait.core import StepError
from plait.define import _port

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunScope:
    """The run a definition is in, in this context: its state, id and trigger payload."""

    state: Any
    run_id: str
    trigger_payload: Any = None


RUN_SCOPES: ContextVar[Mapping[int, RunScope] | None] = ContextVar("plait_run_scopes", default=None)
"""The runs in progress in this context, by ``id()`` of their definition (a step of one
flow may run another flow: each sees its own run)."""


def scope_of(definition: object) -> RunScope | None:
    """The run of ``definition`` this code is part of, or ``None`` outside its runs."""
    scopes = RUN_SCOPES.get()
    return scopes.get(id(definition)) if scopes else None


def enter(definition: object, scope: RunScope) -> Token[Mapping[int, RunScope] | None]:
    """Make ``scope`` the run ``definition``'s code sees in this context (and in the
    tasks and threads started from it) until :func:`leave`."""
    outer = RUN_SCOPES.get()
    return RUN_SCOPES.set(
        {id(definition): scope} if not outer else {**outer, id(definition): scope}
    )


def leave(token: Token[Mapping[int, RunScope] | None]) -> None:
    """End what :func:`enter` began (nothing to undo when called in another context)."""
    try:  # noqa: SIM105 - contextlib.suppress costs an object on every run
        RUN_SCOPES.reset(token)
    except ValueError:  # made in another context: nothing to undo here
        pass


# -- options ---------------------------------------------------------------------------

_NOT_PLAIT = {
    "input_files": "plait has no file inputs; put the files' paths or contents in inputs",
    "persistence": 'plait stores every run in its store; pass store="sqlite:///runs.db"',
}


def refuse_unknown(call: str, unknown: Mapping[str, Any], known: Sequence[str]) -> None:
    """Raise a ``TypeError`` naming the options ``call`` does not take, the ones it
    does, and — for a name that is no option — how to pass it to the run."""
    if not unknown:
        return
    name = next(iter(unknown))
    if name in _NOT_PLAIT:
        raise TypeError(f"{call}({name}=...): {_NOT_PLAIT[name]}")
    near = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {near[0]}=...?" if near else ""
    where = (
        f" To give the run a value named {name!r}, put it in its inputs: "
        f"{call.rsplit('.', 1)[-1]}(inputs={{{name!r}: ...}})."
        if "inputs" in known
        else ""
    )
    others = "".join(f", {n!r}" for n in list(unknown)[1:])
    raise TypeError(
        f"{call}() got an unexpected keyword argument {name!r}{others}; it takes "
        f"{', '.join(f'{n}=' for n in known)}.{hint}{where}"
    )


def extra(options: Mapping[str, Any], known: Sequence[str]) -> dict[str, Any]:
    """The ``options`` not in ``known``."""
    return {k: v for k, v in options.items() if k not in known}


RUN_OPTIONS = ("inputs", "store", "executor", "run_id", "listeners", "durability")
RESUME_OPTIONS = ("store", "executor", "listeners", "durability")
RESPOND_OPTIONS = ("request", "resume", "text", *RESUME_OPTIONS)


# -- a failed run raises its step's exception --------------------------------------------


async def as_raised(work: Awaitable[T]) -> T:
    """``work``'s result; a run that failed in a step raises the step's own exception."""
    try:
        return await work
    except StepError as exc:
        error = _port.original_error(exc)
        if error is exc:
            raise
    raise error  # outside the handler, so it is not chained to the StepError


async def streamed(events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """``events``, ending as :func:`as_raised` does when the run fails."""
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        try:
            async for event in events:
                yield event
        except StepError as exc:
            error = _port.original_error(exc)
            if error is exc:
                raise
        else:
            return
    raise error
