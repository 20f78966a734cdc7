"""The port through which definitions reach the engine that runs them.

``define`` sits below the runtime, so ``Flow.kickoff()`` cannot import it. The engine
(``plait.engine``) installs itself here when it is imported; ``engine()`` imports it on
first use, like a plugin entry point.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from plait.core import StepError

T = TypeVar("T")


class Engine(Protocol):
    """What a definition needs from the engine."""

    async def run(
        self,
        definition: Any,
        inputs: Mapping[str, Any] | None,
        *,
        store: Any = None,
        executor: Any = None,
        run_id: str | None = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        durability: str = "sync",
    ) -> Any:
        """Run ``definition`` to the end and return its result."""
        ...

    async def resume(
        self,
        definition: Any,
        run_id: str,
        *,
        store: Any = None,
        executor: Any = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        durability: str = "sync",
    ) -> Any:
        """Go on with a stored run of ``definition`` and return its result."""
        ...

    def stream(
        self, definition: Any, inputs: Mapping[str, Any] | None, **options: Any
    ) -> AsyncIterator[Any]:
        """Run ``definition`` and yield its events as they happen."""
        ...

    def render(self, definition: Any, fmt: str) -> str:
        """The definition's plan as ``mermaid`` text or an ``html`` page."""
        ...

    def plan(self, definition: Any) -> Any:
        """The definition's compiled, serialisable plan."""
        ...

    def emit(self, name: str, payload: Any) -> None:
        """Emit an event from the step that is running now."""
        ...

    async def map(self, fn: Callable[[Any], Any], items: Any, concurrency: int | None) -> list[Any]:
        """Map ``fn`` over ``items`` inside the running step."""
        ...

    def ask(
        self,
        flow: Any,
        prompt: str,
        *,
        timeout: float | None,
        metadata: dict[str, Any] | None,
        schema: Any,
        default: Any,
    ) -> Any:
        """A person's answer, from inside the running step (or stop it to wait): the
        answer itself in a ``def`` step, an awaitable in an ``async def`` one."""
        ...

    async def respond(self, definition: Any, run_id: str, value: Any, **options: Any) -> Any:
        """Answer what waiting run ``run_id`` asks, and resume it."""
        ...


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()
"""``ask(default=...)`` left out: a wait that times out fails the step."""

_engine: Engine | None = None


def run_sync(awaitable: Coroutine[Any, Any, T], what: str) -> T:
    """Run ``awaitable`` to the end from sync code. Inside a running event loop (Jupyter,
    an async web app) it runs on a worker thread with its own loop, and this thread
    waits for it, as CrewAI's ``kickoff()`` does."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        inside_loop = False
    else:
        inside_loop = True
    if not inside_loop:  # outside the except block, so errors are not chained to it
        return asyncio.run(awaitable)
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    context = contextvars.copy_context()
    with ThreadPoolExecutor(1, f"plait-{what}") as pool:
        return pool.submit(context.run, asyncio.run, awaitable).result()


def original_error(error: BaseException) -> BaseException:
    """The exception a step raised, for a run that failed because of it (as CrewAI's
    ``kickoff()`` raises it), with the flow, step, run and attempt added as notes;
    ``error`` itself for plait's own failures (timeouts, routing, limits...)."""
    cause = error.__cause__
    if type(error) is not StepError or not isinstance(cause, Exception):
        return error
    note = (
        f"plait: raised in step {error.step!r} of flow {error.flow!r} "
        f"(run {error.run_id}, attempt {error.attempt})"
    )
    if note not in getattr(cause, "__notes__", ()):
        cause.add_note(note)
    return cause


def install_engine(engine: Engine) -> None:
    """Make ``engine`` the one behind ``kickoff()`` and ``run()`` (``plait.engine`` calls
    this when it is imported)."""
    global _engine
    _engine = engine


def engine() -> Engine:
    if _engine is None:
        importlib.import_module("plait.engine")  # installs itself
    if _engine is None:
        raise RuntimeError("plait.engine did not install an engine")
    return _engine
