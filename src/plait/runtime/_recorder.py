"""``Recorder``: a run's events on their way to the view, the listeners and the store.

Events go through ``record`` (reducer, buffer, listeners) and reach the store in batches
(``flush``). With an in-memory store that is immediate; a durable store gets batches from
a single writer task, in order, so that no later completion is ever durable before an
earlier one and completions that arrive while one commits share the next commit.

Durability modes (the run's ``durability=`` option, LangGraph's names):

- ``"sync"`` (the default): a step's completion — with its state patch and the model and
  tool calls recorded inside it — is durable before any step it triggers starts, before
  a router's label releases its listeners and before the run reports its end. A step
  whose output something used never runs again after a crash.
- ``"async"``: the steps a completion triggers start while it commits. Faster with a
  slow store; the risk: after a crash, a step whose dependants had already started (and
  used its output) may run again on resume, paying for its model calls twice and
  handing its dependants' re-runs a different answer. The order of the log is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from plait.runtime._events import Event
from plait.runtime._view import RunView, apply
from plait.runtime.ports import Store

Listener = Callable[[Event], None]

DURABILITY = ("sync", "async")
"""The durability modes a run can use; the first is the default."""


class Recorder:
    """Records one run's events: numbering, the view, the listeners, the store."""

    def __init__(
        self,
        run_id: str,
        store: Store,
        view: RunView,
        listeners: Iterable[Listener],
        durability: str = "sync",
    ) -> None:
        self.run_id = run_id
        self.store = store
        self.view = view
        self.listeners = list(listeners)
        self.events: list[Event] = []
        self._buffer: list[Event] = []
        self.seq = 0
        """The number of the last event (``new`` and the hot paths give the next)."""
        self.closed = False
        """Nothing more is recorded (the run ended, or is no longer this process's)."""
        self.immediate = bool(getattr(store, "immediate", False))
        """The store takes each batch at once (in memory): no writer task."""
        self.sync = durability == "sync"
        self._now: Callable[[str, list[Event]], bool] | None = getattr(store, "append_now", None)
        self._writer: asyncio.Task[None] | None = None
        self.store_error: BaseException | None = None
        """Why the store refused a batch: the run cannot go on without its log."""
        self.aio = asyncio.get_running_loop()  # made inside the loop it runs on

    def close(self) -> None:
        """Record nothing more: the run's last event is recorded."""
        self.closed = True

    def abandon(self, error: BaseException) -> None:
        """Stop at once and store nothing more (the run is no longer this process's):
        what is buffered is dropped and ``flush`` raises ``error``."""
        self.closed = True
        self._buffer = []
        self.store_error = error

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def new(self, cls: type[Event], **fields: Any) -> Event:
        """An event of this run, numbered next (hot paths build theirs inline)."""
        self.seq += 1
        return cls(run_id=self.run_id, seq=self.seq, ts=time.time(), **fields)

    def record(self, event: Event) -> Event:
        """Fold ``event`` into the view, buffer it for the store, tell the listeners
        (with a durable store: once it is stored, so whatever they report is durable).
        Nothing is recorded after the run's last event (a late map item, say)."""
        if self.closed:
            return event
        apply(self.view, event)
        self._buffer.append(event)
        self.events.append(event)
        if self.immediate:
            for listener in self.listeners:
                listener(event)
        return event

    async def flush(self) -> None:
        """Return once every event recorded so far is in the store.

        A store that is ``immediate`` (in memory) gets the batch right here. A durable one
        gets batches from a single writer task, one append at a time and in order: while
        one batch commits, the next gathers the events of every step that completes
        meanwhile (group commit across steps and branches).
        """
        if self.flush_now():
            return
        if self.immediate:  # a store without append_now
            batch, self._buffer = self._buffer, []
            await self.store.append(self.run_id, batch)
            return
        writer = self.flush_soon()
        if writer is not None:
            await asyncio.shield(writer)
        if self.store_error is not None:
            raise self.store_error

    def flush_now(self) -> bool:
        """What :meth:`flush` does, without awaiting anything, when it can: True once
        every event recorded so far is in the store; False, with nothing stored, when only
        ``await flush()`` can store it. A store that is ``immediate`` (in memory) takes
        the batch here; a durable one does when no write is in flight and it can commit
        without waiting (``append_now``: SQLite with its write lock free), which saves the
        writer task and the thread hand-offs a durable step would otherwise pay."""
        batch = self._buffer
        if self.immediate:
            if batch:
                now = self._now
                if now is None:
                    return False
                self._buffer = []  # refused (raises): gone, as with append
                if not now(self.run_id, batch):  # the listeners heard of these already
                    self._buffer = batch
                    return False
            return True
        writer = self._writer
        if writer is not None and not writer.done():
            return False
        if self.store_error is not None:
            raise self.store_error
        if not batch:
            return True
        now = self._now
        if now is None:
            return False
        try:
            if not now(self.run_id, batch):
                return False
        except Exception as exc:
            self.store_error = exc
            self._buffer = []
            raise
        self._buffer = []
        for event in batch:
            for listener in self.listeners:
                listener(event)
        return True

    def flush_soon(self) -> asyncio.Task[None] | None:
        """Make sure the writer task is on its way to store what is buffered."""
        writer = self._writer
        if writer is None or writer.done():
            if not self._buffer:
                return None
            writer = self._writer = self.aio.create_task(self._write())
        return writer

    async def _write(self) -> None:
        while self._buffer and self.store_error is None:
            batch, self._buffer = self._buffer, []
            try:
                await self.store.append(self.run_id, batch)
                for event in batch:  # listeners hear of events once they are stored
                    for listener in self.listeners:
                        listener(event)
            except Exception as exc:  # the run cannot go on without its log: the next
                self.store_error = exc  # flush() raises it, the next completion fails
                self._buffer = []
