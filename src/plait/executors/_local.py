"""``LocalExecutor``: async steps on the event loop, sync steps in worker threads."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def _no_stop_iteration(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a ``StopIteration`` it raises becomes a ``RuntimeError`` (as PEP 479
    does for coroutines): asyncio cannot put a ``StopIteration`` into a future, and the
    step would wait forever."""
    try:
        return fn(*args, **kwargs)
    except StopIteration as exc:
        raise RuntimeError(f"step raised StopIteration: {exc!r}") from exc


class LocalExecutor:
    """Runs ``async def`` steps directly and ``def`` steps in a thread pool, so a blocking
    step never stalls the others. The pool starts on first use."""

    @property
    def awaits_async_steps(self) -> bool:
        """``call`` only awaits an ``async def`` step (see :class:`plait.runtime.Executor`);
        not so once ``call`` is replaced (a subclass, a patch of the class or instance)."""
        return type(self).call is _CALL and "call" not in self.__dict__

    def __init__(self, max_threads: int = 64) -> None:
        self.max_threads = max_threads
        self._pool: ThreadPoolExecutor | None = None

    async def call(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        is_async: bool,
    ) -> Any:
        if is_async:
            return await fn(*args, **kwargs)
        pool = self._pool
        if pool is None:
            pool = self._pool = ThreadPoolExecutor(self.max_threads, "plait-step")
        ctx = contextvars.copy_context()
        call = functools.partial(ctx.run, _no_stop_iteration, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    async def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


_CALL = LocalExecutor.call
"""``LocalExecutor.call`` as defined here (see ``awaits_async_steps``)."""
