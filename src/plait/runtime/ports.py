"""The runtime's ports: what it needs from a store and an executor.

Executors and stores implement these Protocols; the runtime never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from plait.runtime._events import Event


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What a store keeps about a run besides its events."""

    run_id: str
    flow: str
    status: str = "running"
    created_at: float = 0.0
    updated_at: float = 0.0
    inputs: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    error: str = ""
    owner: str = ""
    """Who holds the run's lease now ("" when nobody does); see :meth:`Store.acquire`."""
    lease_until: float = 0.0
    """When the owner's lease runs out (epoch seconds); 0.0 when there is no owner."""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached step result: ``value`` as stored, put there at ``created_at``."""

    value: Any
    created_at: float


PRUNABLE: tuple[str, ...] = ("completed", "failed", "cancelled")
"""The statuses :meth:`Store.prune` deletes by default."""

UNPRUNABLE: frozenset[str] = frozenset({"running", "waiting"})
"""Statuses of runs that :meth:`Store.prune` never deletes."""


@runtime_checkable
class Store(Protocol):
    """Keeps runs and their event logs. Every store passes the conformance suite in
    :mod:`plait.testing.conformance`.

    - ``create_run`` raises :class:`~plait.core.StoreError` for a run id it already has.
      It keeps the record's ``owner`` and ``lease_until``: the engine makes a run already
      leased to the process that runs it.
    - ``append`` returns once the events are durable (for durable stores). A run's events
      are appended in ``seq`` order: a batch whose first ``seq`` is not greater than the
      last stored one, or that is not increasing, is refused whole (StoreError), and so is
      a batch holding a value the value codec cannot store — nothing of it is stored.
      Every store, the in-memory one too, refuses the same values (naming the event, its
      step and the field) and gives back what it stores exactly, with its type
      (:mod:`plait.runtime._value_codec`); so does ``create_run`` for the inputs.
    - Optional: ``immediate = True`` (an in-memory store: the run appends without a
      writer task), and ``append_now(run_id, events) -> bool``, which commits without
      awaiting anything when it can (True) and stores nothing otherwise (False), so that a
      durable step does not pay for a task and thread hand-offs (SQLite when idle).
    - ``read(run_id, after=n)`` returns the events with ``seq > n`` in order.
    - Optional: ``tail(run_id, *, after_seq=0) -> AsyncIterator[Event]`` follows a run
      live, from this process or another: it yields the events with ``seq > after_seq``
      in ``seq`` order, each once, as they are stored, and ends once the run's status is
      completed, failed or cancelled and every event stored before that status has been
      yielded (a waiting run is followed on; cancel the iteration to stop). An unknown
      or deleted run raises StoreError. Every built-in store has it (PostgreSQL:
      LISTEN/NOTIFY; Redis: pub/sub; SQLite: polling from 5 ms backing off to 200 ms;
      memory: wake-ups); :func:`plait.stores.tail` follows any store, polling one
      without it (:mod:`plait.stores._tail`).
    - ``list_runs`` returns the newest runs first.
    - Unknown run ids: ``get_run`` returns None; the other calls raise StoreError.
    - ``prune`` deletes finished runs with their events and returns how many runs went.
      A run goes when its status is in ``statuses`` (running and waiting runs are never
      pruned, whatever ``statuses`` says), its ``flow`` is ``flow`` (if given), its
      ``updated_at`` is before the epoch time ``older_than`` (if given), and it is not
      among the ``keep_latest`` newest such runs (by ``created_at``, then ``run_id``) of
      its flow (if given; the newest are counted among the runs matching ``statuses``
      and ``flow``, whatever their age). Each run goes whole, with its events, or not at
      all. ``dry_run=True`` deletes nothing and returns how many runs would go.
    - ``list_runs`` filters on ``flow``, ``status``, and ``created_at`` (``since`` ≤
      created_at < ``before``, each if given).

    Leases (who runs a run now; times are the caller's ``time.time()``):

    - ``acquire(run_id, owner, ttl)`` takes or renews the run's lease until now + ``ttl``
      and returns True when the run has no owner, when ``owner`` already holds it, or when
      the holder's ``lease_until`` has passed; otherwise it changes nothing and returns
      False. With ``replace``, it also wins when ``replace`` holds the lease now, live or
      not (taking over from an owner known to be dead, compare-and-swap). It is atomic: of concurrent acquires by different owners (processes,
      machines) exactly one wins. ``get_run``/``list_runs`` show ``owner`` and
      ``lease_until``.
    - ``release(run_id, owner)`` clears the lease when ``owner`` holds it; otherwise it
      does nothing. Both raise StoreError for an unknown run id. ``delete_run``/``prune``
      remove a run's lease with it.

    Step cache (shared by every run in the store; keys are opaque strings):

    - ``cache_put(key, value, ttl=...)`` stores ``value`` (any value the event codec can
      hold, round-tripping exactly as event fields do), replacing what the key held; it
      expires ``ttl`` seconds from now (never when ``ttl`` is None). A value the store
      cannot serialise raises StoreError and leaves the key as it was.
    - ``cache_get(key)`` returns a :class:`CacheEntry`, or None when the key is absent or
      expired.
    """

    async def create_run(self, record: RunRecord) -> None: ...

    async def append(self, run_id: str, events: Sequence[Event]) -> None: ...

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None: ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def list_runs(
        self,
        *,
        flow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        since: float | None = None,
        before: float | None = None,
    ) -> list[RunRecord]: ...

    async def read(self, run_id: str, *, after: int = 0) -> list[Event]: ...

    async def delete_run(self, run_id: str) -> bool: ...

    async def prune(
        self,
        *,
        older_than: float | None = None,
        keep_latest: int | None = None,
        flow: str | None = None,
        statuses: Sequence[str] = PRUNABLE,
        dry_run: bool = False,
    ) -> int: ...

    async def acquire(self, run_id: str, owner: str, ttl: float, *, replace: str = "") -> bool: ...

    async def release(self, run_id: str, owner: str) -> None: ...

    async def cache_get(self, key: str) -> CacheEntry | None: ...

    async def cache_put(self, key: str, value: Any, *, ttl: float | None = None) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class Executor(Protocol):
    """Runs step code: ``await call(fn, args, kwargs, is_async)``.

    Optional: ``awaits_async_steps = True`` says that ``call`` only awaits an ``async def``
    step on the caller's event loop, so the run loop awaits such steps itself (one
    coroutine less per step)."""

    async def call(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        is_async: bool,
    ) -> Any: ...

    async def close(self) -> None: ...


def prunable_statuses(statuses: Sequence[str], keep_latest: int | None) -> tuple[str, ...]:
    """``statuses`` without running/waiting, for :meth:`Store.prune` implementations;
    a ValueError for a negative ``keep_latest`` or a lone string."""
    if isinstance(statuses, str):
        raise ValueError(f"statuses must be a sequence of statuses, not the string {statuses!r}")
    if keep_latest is not None and keep_latest < 0:
        raise ValueError(f"keep_latest must be 0 or more, not {keep_latest}")
    return tuple(dict.fromkeys(s for s in statuses if s not in UNPRUNABLE))


def select_prunable(
    runs: Sequence[tuple[str, str, str, float, float]],
    *,
    older_than: float | None,
    keep_latest: int | None,
    flow: str | None,
    statuses: Sequence[str],
) -> list[str]:
    """The ids :meth:`Store.prune` deletes among ``runs`` — ``(run_id, flow, status,
    created_at, updated_at)`` tuples — for stores that select in Python."""
    wanted = set(prunable_statuses(statuses, keep_latest))
    matching = [r for r in runs if r[2] in wanted and (flow is None or r[1] == flow)]
    matching.sort(key=lambda r: (r[3], r[0]), reverse=True)
    seen: dict[str, int] = {}
    out: list[str] = []
    for run_id, run_flow, _, _, updated_at in matching:
        rank = seen[run_flow] = seen.get(run_flow, 0) + 1
        if keep_latest is not None and rank <= keep_latest:
            continue
        if older_than is not None and not updated_at < older_than:
            continue
        out.append(run_id)
    return out
