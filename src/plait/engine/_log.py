"""Read a stored run: its record and its decoded event log, in one place for every reader
(resume, respond, time travel, the CLI); or follow it live (:func:`follow_run`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from plait.core import RunError, StoreError
from plait.engine._backends import owned_store
from plait.runtime import Event, RunRecord, RunStarted, Store
from plait.stores import tail


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run as a store holds it: its record and its events in ``seq`` order."""

    record: RunRecord
    events: list[Event]


async def find_run(store: Store, run_id: str) -> StoredRun | None:
    """The run's record and whole log, or None when ``store`` has no run ``run_id``."""
    record = await store.get_run(run_id)
    if record is None:
        return None
    return StoredRun(record, await store.read(run_id))


async def load_run(
    store: Store, run_id: str, *, flow: str | None = None, started: bool = False
) -> StoredRun:
    """The run's record and whole log.

    Raises :class:`RunError` when ``store`` has no run ``run_id``, or when ``flow`` is
    given and the run is a run of another flow; with ``started``, a
    :class:`StoreError` when the log is not empty and does not begin with ``RunStarted``
    (truncated or corrupted)."""
    found = await find_run(store, run_id)
    if found is None:
        raise RunError(
            f"no run {run_id} in this store; check the run id and the store URL "
            "(PLAIT_STORE or store=...)",
            flow=flow or "",
            run_id=run_id,
        )
    if flow and found.record.flow != flow:
        raise RunError(
            f"run {run_id} is a run of {found.record.flow!r}, not of {flow!r}; use that flow",
            flow=flow,
            run_id=run_id,
        )
    events = found.events
    if started and events and not isinstance(events[0], RunStarted):
        raise StoreError(
            f"the stored log of run {run_id} does not begin with RunStarted (truncated or "
            "corrupted); nothing was changed"
        )
    return found


async def follow_run(run_id: str, *, store: Any = None, after_seq: int = 0) -> AsyncIterator[Event]:
    """The events of run ``run_id`` after ``after_seq`` as they are stored, by this process
    or another, until the run ends (see :func:`plait.stores.tail`); ``store`` is a Store
    or a URL (opened for the iteration and closed after it)."""
    async with owned_store(store) as the_store:
        async for event in tail(the_store, run_id, after_seq):
            yield event
