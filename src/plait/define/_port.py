"""The port through which definitions reach the engine that runs them.

``define`` sits below the runtime, so ``Flow.kickoff()`` cannot import it. The engine
(``plait.engine``) installs itself here when it is imported; ``engine()`` imports it on
first use, like a plugin entry point.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from plait.core import RunError

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

    def emit(self, name: str, payload: Any) -> None:
        """Emit an event from the step that is running now."""
        ...

    async def map(self, fn: Callable[[Any], Any], items: Any, concurrency: int | None) -> list[Any]:
        """Map ``fn`` over ``items`` inside the running step."""
        ...

    async def ask(self, prompt: str, schema: Any, timeout: float | None, default: Any) -> Any:
        """A person's answer, from inside the running step (or stop it to wait)."""
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
    """Run ``awaitable`` to the end from sync code; a clear error inside an event loop."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        inside_loop = False
    else:
        inside_loop = True
    if not inside_loop:  # outside the except block, so errors are not chained to it
        return asyncio.run(awaitable)
    awaitable.close()
    raise RunError(
        f"{what}() blocks, so it cannot run inside a running event loop (Jupyter, an async "
        f"framework); use  await {what}_async(...)  there"
    )


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
