"""``StepContext``: what the step that is running now can reach."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plait.core import RunError
from plait.define import NO_DEFAULT, current_step
from plait.runtime._events import Event
from plait.runtime._input import ask

if TYPE_CHECKING:
    from plait.runtime._loop import RunLoop


class _Replays:
    """The calls of one kind that a step recorded before this attempt, by fingerprint,
    and the next free number for calls it makes now."""

    __slots__ = ("by_print", "next")

    def __init__(self, recorded: dict[int, Event]) -> None:
        self.by_print: dict[str, list[Event]] = {}
        for index in sorted(recorded):
            event = recorded[index]
            self.by_print.setdefault(str(getattr(event, "fingerprint", "")), []).append(event)
        self.next = max(recorded, default=0)

    def take(self, fingerprint: str) -> tuple[int, Event | None]:
        found = self.by_print.get(fingerprint)
        if found:
            event = found.pop(0)
            return int(getattr(event, "index", 0)), event
        self.next += 1
        return self.next, None


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
    emits: int = 0
    """How many ``emit`` calls this attempt has made (each is recorded once per run)."""
    replays: dict[str, _Replays] | None = None
    """This attempt's model and tool calls by kind: numbering, and what to replay."""

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

    def next_call(self, kind: str, fingerprint: str) -> tuple[int, Event | None]:
        """Number this attempt's next ``kind`` call ("model", "tool") and find the event
        an earlier run of this step (a resume) recorded for the same call: the first not
        yet reused whose ``fingerprint`` (a hash of the request) matches, so calls made
        concurrently get their own answers back whatever order they come in."""
        replays = self.replays
        if replays is None:
            replays = self.replays = {}
        pending = replays.get(kind)
        if pending is None:
            recorded = self.loop.view.effects.get((self.step, self.invocation, kind), {})
            pending = replays[kind] = _Replays(recorded)
        return pending.take(fingerprint)

    async def record(self, cls: type[Event], **fields: Any) -> None:
        """Record a ``cls`` event of this step (a ``ModelCalled``, ``ToolCalled``) now and
        return once it is durable: a crash after this point does not pay for that call
        again. Works from a step's worker thread too (a sync step running its own event
        loop): the event is made and recorded on the run's loop."""
        aio = self.loop.aio
        if _running_loop() is aio:
            await self._record_here(cls, fields)
        else:
            future = asyncio.run_coroutine_threadsafe(self._record_here(cls, fields), aio)
            await asyncio.wrap_future(future)

    async def _record_here(self, cls: type[Event], fields: dict[str, Any]) -> None:
        self.loop.record(self.loop.new(cls, step=self.step, invocation=self.invocation, **fields))
        await self.loop.flush()

    def notify(self, event: Event) -> None:
        """Tell the run's listeners about ``event`` without storing it (streamed tokens)."""
        aio = self.loop.aio
        for listener in self.loop.listeners:
            if _running_loop() is aio:
                listener(event)
            else:
                aio.call_soon_threadsafe(listener, event)

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


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def current_context() -> StepContext:
    """The context of the step running now; raises outside a step."""
    ctx = _current.get()
    if not isinstance(ctx, StepContext):
        raise RunError(
            "no step is running here: emit(), map(), ask() and context() work only inside a step"
        )
    return ctx
