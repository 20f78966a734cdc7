"""Following a run's log as it grows (``Store.tail``), the part every store shares.

A tail yields the run's events with ``seq`` greater than ``after_seq``, in ``seq`` order,
each once, as they are stored — by this process or any other. It ends once the run's
status is final (completed, failed or cancelled) and it has yielded every event stored
by then; a run that ends ``waiting`` is followed on (an answer and a resume continue its
log), so cancel the iteration (or wrap it in ``asyncio.timeout``) to stop earlier. A run
that is not in the store, or is deleted while followed, raises StoreError.

Each store tells the loop when to look again: a notification (PostgreSQL
LISTEN/NOTIFY, Redis pub/sub, an ``asyncio.Event`` in memory) or, for SQLite, polling
that backs off from 5 ms to 200 ms while nothing comes. The loop reads the status first
and the events after it: a writer stores a run's last events before its final status,
so a final status read means the events read after it are all there will be. A wake-up
is only a hint: every store also looks again at least every :data:`SAFETY_POLL_S`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from plait.core import StoreError
from plait.runtime import Event, Store

FINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""A tail ends once the run has one of these statuses and its stored events are yielded."""

SAFETY_POLL_S = 1.0
"""The longest a notified tail waits before looking again without a notification."""

POLL_FIRST_S = 0.005
POLL_MOST_S = 0.2
"""A polling tail waits ``POLL_FIRST_S`` after events came, doubling while none do, up to
``POLL_MOST_S``."""

Wait = Callable[[float], Awaitable[None]]
"""``await wait(timeout)``: returns when something of the run may have changed, or after
``timeout`` seconds."""


async def follow(
    store: Store,
    run_id: str,
    after_seq: int,
    *,
    wait: Wait | None = None,
    status: Callable[[str], Awaitable[str | None]] | None = None,
    first: float = POLL_FIRST_S,
    most: float = POLL_MOST_S,
) -> AsyncIterator[Event]:
    """The tail loop over ``store`` (see the module docs): ``wait`` (default: sleep)
    between looks, ``first``/``most`` its timeouts; ``status(run_id)`` the run's status or
    None when it is gone (default: from ``get_run``)."""
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
        raise ValueError(f"after_seq must be an event number (int, 0 or more), not {after_seq!r}")
    pause = wait or asyncio.sleep
    state_of = status or _status_from(store)
    last = after_seq
    delay = first
    while True:
        now = await state_of(run_id)
        if now is None:
            raise StoreError(f"run {run_id} is not in this store (deleted while followed?)")
        events = await store.read(run_id, after=last)
        for event in events:
            if event.seq <= last:  # a store that gave one twice: never yield it again
                continue
            last = event.seq
            yield event
        if now in FINAL_STATUSES:
            return
        delay = first if events else min(delay * 2, most)
        await pause(delay)


async def poll(store: Store, run_id: str, after_seq: int = 0) -> AsyncIterator[Event]:
    """A tail for any store, by polling (``store.tail`` when the store has one is better:
    see :func:`tail`)."""
    async for event in follow(store, run_id, after_seq):
        yield event


def tail(store: Store, run_id: str, after_seq: int = 0) -> AsyncIterator[Event]:
    """Follow run ``run_id`` of ``store``: ``store.tail`` when it has one, else polling.

    ``async for event in tail(store, run_id): ...`` (see the module docs for when it
    ends)."""
    own = getattr(store, "tail", None)
    if own is not None:
        found: AsyncIterator[Event] = own(run_id, after_seq=after_seq)
        return found
    return poll(store, run_id, after_seq)


def _status_from(store: Store) -> Callable[[str], Awaitable[str | None]]:
    async def status(run_id: str) -> str | None:
        record = await store.get_run(run_id)
        return None if record is None else record.status

    return status
