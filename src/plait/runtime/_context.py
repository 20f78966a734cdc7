"""``StepContext``: what the step that is running now can reach."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plait.core import RunError
from plait.define import NO_DEFAULT, current_step
from plait.runtime._input import ask

if TYPE_CHECKING:
    from plait.runtime._loop import RunLoop


@dataclass(slots=True)
class StepContext:
    """The running step: its run, name, invocation (1 for the first call) and attempt."""

    run_id: str
    flow: str
    step: str
    invocation: int
    attempt: int
    loop: RunLoop
    maps: int = 0
    """How many ``map`` calls this attempt has made (their items are recorded apart)."""
    asks: int = 0
    """How many ``ask`` calls this attempt has made (each answer is recorded apart)."""

    @property
    def state(self) -> Any:
        """The run's live state."""
        return self.loop.state

    def emit(self, name: str, payload: Any = None) -> None:
        """Fire the steps listening with ``on_event(name)``; they start right away."""
        self.loop.emit(self, name, payload)

    async def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        concurrency: int | None = None,
    ) -> list[Any]:
        """``fn`` over ``items`` with at most ``concurrency`` at once; results in order.

        Each finished item is recorded, so a retried or resumed step skips it.
        """
        return await self.loop.map(self, fn, items, concurrency)

    async def ask(
        self,
        prompt: str,
        *,
        schema: Any = None,
        timeout: float | None = None,
        default: Any = NO_DEFAULT,
    ) -> Any:
        """A person's answer to ``prompt``, validated into ``schema`` (any JSON when
        None). With no answer stored yet the step stops here and the run waits
        (``WaitingForInput``); once answered, resuming runs the step again from its start
        and this returns the answer. After ``timeout`` seconds of waiting the answer is
        ``default``, or with no default the step fails with ``InputTimeoutError``."""
        return await ask(self, prompt, schema, timeout, default)


_current = current_step


def current_context() -> StepContext:
    """The context of the step running now; raises outside a step."""
    ctx = _current.get()
    if not isinstance(ctx, StepContext):
        raise RunError(
            "no step is running here: emit(), map(), ask() and context() work only inside a step"
        )
    return ctx
