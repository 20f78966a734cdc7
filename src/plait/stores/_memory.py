"""``MemoryStore``: runs kept in this process only (the library's default).

Events and records are kept as the objects themselves, but a value a durable store
could not hold is refused here too (:func:`~plait.runtime.check_events`), so a flow that
runs in memory also runs on SQLite, PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from plait.core import StoreError
from plait.runtime import (
    CacheEntry,
    Event,
    RunRecord,
    check_events,
    surely_storable,
    to_json_value,
)
from plait.runtime.ports import PRUNABLE, select_prunable
from plait.stores._order import check_order
from plait.stores._tail import SAFETY_POLL_S, follow
from plait.stores._values import check_lease, dumps_value, expires_at, is_live, loads_value


class MemoryStore:
    """Keeps every run and event in dicts; gone when the process ends."""

    immediate = True
    """``append`` does no I/O: the run loop hands it each batch at once."""

    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._events: dict[str, list[Event]] = {}
        self._cache: dict[str, tuple[str, float, float | None]] = {}
        """key -> (JSON text, created_at, expires_at): values are copied, as in a durable
        store, so a cached result cannot change after it is put."""
        self._tails: dict[str, set[asyncio.Event]] = {}
        """run id -> the wake-ups of the tails following it (see :meth:`tail`)."""

    async def create_run(self, record: RunRecord) -> None:
        if record.run_id in self._runs:
            raise StoreError(f"run {record.run_id} already exists in this store")
        run_id, inputs = record.run_id, record.inputs
        if not (type(run_id) is str and run_id.isascii()):
            to_json_value(run_id, "the run id")  # storable, or raise
        if inputs and not surely_storable(inputs, 0):
            to_json_value(inputs, f"run {run_id} inputs")
        self._runs[record.run_id] = record
        self._events[record.run_id] = []

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        self._append(run_id, events)

    def append_now(self, run_id: str, events: Sequence[Event]) -> bool:
        """:meth:`append` without a coroutine (the run loop's hot path). False, with
        nothing stored, in a subclass with an ``append`` of its own, so that it is called."""
        if type(self).append is not MemoryStore.append:
            return False
        self._append(run_id, events)
        return True

    def _append(self, run_id: str, events: Sequence[Event]) -> None:
        log = self._events.get(run_id)
        if log is None:
            raise StoreError(f"run {run_id} is not in this store; create it first")
        check_order(run_id, log[-1].seq if log else 0, events)
        check_events(events)
        log.extend(events)
        if self._tails:
            self._wake(run_id)

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None:
        record = self._runs.get(run_id)
        if record is None:
            raise StoreError(f"run {run_id} is not in this store")
        self._runs[run_id] = RunRecord(  # dataclasses.replace() costs 3x as much, once a run
            run_id=record.run_id,
            flow=record.flow,
            status=status,
            created_at=record.created_at,
            updated_at=time.time(),
            inputs=record.inputs,
            plan=record.plan,
            error=error,
            owner=record.owner,
            lease_until=record.lease_until,
        )
        if self._tails:
            self._wake(run_id)

    async def get_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    async def list_runs(
        self,
        *,
        flow: str | None = None,
        status: str | None = None,
        limit: int = 100,
        since: float | None = None,
        before: float | None = None,
    ) -> list[RunRecord]:
        runs = [
            r
            for r in self._runs.values()
            if (flow is None or r.flow == flow)
            and (status is None or r.status == status)
            and (since is None or r.created_at >= since)
            and (before is None or r.created_at < before)
        ]
        runs.sort(key=lambda r: r.created_at, reverse=True)
        return runs[:limit]

    async def read(self, run_id: str, *, after: int = 0) -> list[Event]:
        log = self._events.get(run_id)
        if log is None:
            raise StoreError(f"run {run_id} is not in this store")
        return [e for e in log if e.seq > after] if after else list(log)

    async def delete_run(self, run_id: str) -> bool:
        self._events.pop(run_id, None)
        found = self._runs.pop(run_id, None) is not None
        if self._tails:
            self._wake(run_id)
        return found

    async def tail(self, run_id: str, *, after_seq: int = 0) -> AsyncIterator[Event]:
        """The run's events after ``after_seq`` as they are appended, until it ends (see
        :mod:`plait.stores._tail`); woken by ``append`` and ``set_status``."""
        woken = asyncio.Event()
        self._tails.setdefault(run_id, set()).add(woken)

        async def wait(timeout: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout)
            woken.clear()

        try:
            async for event in follow(
                self, run_id, after_seq, wait=wait, first=SAFETY_POLL_S, most=SAFETY_POLL_S
            ):
                yield event
        finally:
            watchers = self._tails.get(run_id)
            if watchers is not None:
                watchers.discard(woken)
                if not watchers:
                    del self._tails[run_id]

    def _wake(self, run_id: str) -> None:
        for woken in self._tails.get(run_id, ()):
            woken.set()

    async def prune(
        self,
        *,
        older_than: float | None = None,
        keep_latest: int | None = None,
        flow: str | None = None,
        statuses: Sequence[str] = PRUNABLE,
        dry_run: bool = False,
    ) -> int:
        rows = [
            (r.run_id, r.flow, r.status, r.created_at, r.updated_at) for r in self._runs.values()
        ]
        doomed = select_prunable(
            rows, older_than=older_than, keep_latest=keep_latest, flow=flow, statuses=statuses
        )
        if not dry_run:
            for run_id in doomed:
                await self.delete_run(run_id)
        return len(doomed)

    async def acquire(self, run_id: str, owner: str, ttl: float, *, replace: str = "") -> bool:
        check_lease(owner, ttl)
        record = self._run(run_id)
        now = time.time()
        taken_over = bool(replace) and record.owner == replace
        if record.owner not in ("", owner) and not record.lease_until < now and not taken_over:
            return False
        self._runs[run_id] = dataclasses.replace(record, owner=owner, lease_until=now + ttl)
        return True

    async def release(self, run_id: str, owner: str) -> None:
        record = self._run(run_id)
        if owner and record.owner == owner:
            self._runs[run_id] = dataclasses.replace(record, owner="", lease_until=0.0)

    async def cache_get(self, key: str) -> CacheEntry | None:
        found = self._cache.get(key)
        if found is None:
            return None
        text, created_at, expiry = found
        if not is_live(expiry, time.time()):
            del self._cache[key]
            return None
        return CacheEntry(value=loads_value(key, text), created_at=created_at)

    async def cache_put(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        text = dumps_value(key, value)
        now = time.time()
        self._cache[key] = (text, now, expires_at(now, ttl))

    def _run(self, run_id: str) -> RunRecord:
        record = self._runs.get(run_id)
        if record is None:
            raise StoreError(f"run {run_id} is not in this store")
        return record

    async def close(self) -> None:
        return None
