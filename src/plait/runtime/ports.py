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


@runtime_checkable
class Store(Protocol):
    """Keeps runs and their event logs. Every store passes the conformance suite in
    :mod:`plait.testing.conformance`.

    - ``create_run`` raises :class:`~plait.core.StoreError` for a run id it already has.
    - ``append`` returns once the events are durable (for durable stores). A run's events
      are appended in ``seq`` order: a batch whose first ``seq`` is not greater than the
      last stored one, or that is not increasing, is refused whole (StoreError), and so is
      a batch holding a value the store cannot serialise — nothing of it is stored.
    - ``read(run_id, after=n)`` returns the events with ``seq > n`` in order.
    - ``list_runs`` returns the newest runs first.
    - Unknown run ids: ``get_run`` returns None; the other calls raise StoreError.
    """

    async def create_run(self, record: RunRecord) -> None: ...

    async def append(self, run_id: str, events: Sequence[Event]) -> None: ...

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None: ...

    async def get_run(self, run_id: str) -> RunRecord | None: ...

    async def list_runs(
        self, *, flow: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[RunRecord]: ...

    async def read(self, run_id: str, *, after: int = 0) -> list[Event]: ...

    async def delete_run(self, run_id: str) -> bool: ...

    async def close(self) -> None: ...


@runtime_checkable
class Executor(Protocol):
    """Runs step code: ``await call(fn, args, kwargs, is_async)``."""

    async def call(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        is_async: bool,
    ) -> Any: ...

    async def close(self) -> None: ...
