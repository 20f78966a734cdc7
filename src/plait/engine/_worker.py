"""Recovery: find stored runs that nobody runs any more and finish them.

``recover(store)`` looks once; ``work(store)`` keeps looking (``plait worker``). A run is
taken up when

- its status is ``running`` and its lease ran out, or its owner is a dead process on this
  machine (the process that ran it crashed), or
- its status is ``waiting`` and it can go on: an answer was stored without resuming
  (``respond(..., resume=False)``), or a wait ran past its timeout.

Taking a run up is an ordinary ``resume``, whose lease makes sure that of several workers
exactly one runs it. The flow or workflow comes from the reference the run stored
(``module:Name``, or the file of a script: ``/path/file.py:Name``), through the one
loader, :func:`~plait.engine.load_definition`, which loads a file only from the
allow-list; pass ``load=`` to find definitions another way.

One run that cannot go on never stops the others: it is reported in
:attr:`Recovered.failed` and the rest are recovered. A run whose code loads but cannot go
on with its stored log (an output that no longer decodes, a step renamed, a flow renamed)
is marked failed with the reason, so no worker tries it again and again: fix the cause,
then ``plait runs resume RUN_ID``. A run whose code does not load here, or that the
store could not serve, is left for a worker that can, and ``work`` tries it again later,
waiting twice as long after each failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plait.core import PlaitError, RunBusyError, StoreError, WaitingForInput, mask_secrets
from plait.engine._backends import owned_store
from plait.engine._engine import ENGINE, _index
from plait.engine._loader import load_definition
from plait.engine._respond import can_go_on
from plait.plan import compile
from plait.runtime import Lease, RunRecord, Store, is_stale, replay

log = logging.getLogger("plait.worker")

Loader = Callable[[RunRecord], Any]

MAX_BACKOFF = 900.0
"""The longest ``work`` waits before trying a run that failed to recover again (s)."""


@dataclass(slots=True)
class Recovered:
    """What one look at the store did, by run id."""

    completed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Runs that could not go on, with why (the others were recovered all the same)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Runs left alone, with why (another worker took them, no code to run them)."""
    error: str = ""
    """Why the look itself failed (``work`` only: the store could not be read); it looks
    again after its interval."""


@dataclass(slots=True)
class _Backoff:
    """Runs whose recovery failed in this process, and when ``work`` tries each again."""

    first: float
    failures: dict[str, int] = field(default_factory=dict)
    until: dict[str, float] = field(default_factory=dict)

    def waits(self, run_id: str, now: float) -> bool:
        return self.until.get(run_id, 0.0) > now

    def failed(self, run_id: str, now: float) -> float:
        count = self.failures[run_id] = self.failures.get(run_id, 0) + 1
        delay = min(MAX_BACKOFF, self.first * 2.0**count)
        self.until[run_id] = now + delay
        return delay

    def keep_only(self, run_ids: set[str]) -> None:
        for gone in set(self.failures) - run_ids:
            self.failures.pop(gone, None)
            self.until.pop(gone, None)


async def _due(record: RunRecord, now: float) -> bool:
    if record.status == "running":
        return is_stale(record, now)
    return record.status == "waiting" and not record.owner


async def recover(
    store: Any = None,
    *,
    load: Loader = load_definition,
    limit: int = 100,
) -> Recovered:
    """Finish every run in ``store`` (a Store or URL) that nobody runs any more; see the
    module docs. Returns what happened to each run it looked at."""
    async with owned_store(store) as the_store:
        return await _look(the_store, load, limit, None)


async def _look(store: Store, load: Loader, limit: int, backoff: _Backoff | None) -> Recovered:
    done = Recovered()
    now = time.time()
    candidates = [
        *await store.list_runs(status="running", limit=limit),
        *await store.list_runs(status="waiting", limit=limit),
    ]
    if backoff is not None:
        backoff.keep_only({r.run_id for r in candidates})
    for record in candidates:
        if not await _due(record, now):
            continue
        if backoff is not None and backoff.waits(record.run_id, now):
            continue
        await _take_up(store, record, load, done)
        if backoff is not None and record.run_id in done.failed:
            delay = backoff.failed(record.run_id, time.time())
            log.debug("plait worker: run %s tried again in %g s", record.run_id, delay)
    return done


async def _take_up(store: Store, record: RunRecord, load: Loader, done: Recovered) -> None:
    """Resume one run; whatever goes wrong lands in ``done``, never in the caller."""
    run_id = record.run_id
    loaded = False
    try:
        definition = load(record)
        loaded = True
        plan = compile(definition)
        if record.status == "waiting":
            view = replay(_index(plan), await store.read(run_id))
            if not can_go_on(view, time.time()):
                return
        log.info("plait worker: resuming run %s of %s", run_id, record.flow)
        await ENGINE.resume(definition, run_id, store=store)
    except WaitingForInput:
        done.waiting.append(run_id)
    except RunBusyError as exc:
        done.skipped[run_id] = str(exc)
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise
    except BaseException as exc:  # a user's BaseException from a step stops this run only
        await _failed(store, record, exc, loaded=loaded, done=done)
    else:
        done.completed.append(run_id)


async def _failed(
    store: Store, record: RunRecord, exc: BaseException, *, loaded: bool, done: Recovered
) -> None:
    run_id = record.run_id
    why = mask_secrets(_reason(exc))
    log.warning("plait worker: run %s of %s cannot go on: %s", run_id, record.flow, why)
    try:
        now = await store.get_run(run_id)
    except Exception:
        now = None
    if now is not None and now.status == "completed":  # another worker finished it
        done.skipped[run_id] = f"another process completed it meanwhile ({why})"
        return
    if (
        now is None
        or now.status not in ("running", "waiting")  # the run recorded its own failure
        or not loaded  # a worker where its code loads may run it
        or isinstance(exc, StoreError)  # the store may serve it later
    ):
        done.failed[run_id] = why
        return
    # Its code loads but cannot go on with its stored log: say so in the store, so that
    # no worker tries again and again, and the operator sees why (plait runs list).
    message = (
        f"plait worker could not resume run {run_id} of {record.flow!r}: {why}; fix the "
        f"cause (the flow's code, or the stored run), then go on with: plait runs resume "
        f"{run_id}"
    )
    lease = Lease(store, run_id)
    try:
        await lease.take(now)
    except RunBusyError as busy:
        done.skipped[run_id] = f"another process took it up after it failed here ({busy})"
        return
    except Exception:
        done.failed[run_id] = why
        return
    try:
        await store.set_status(run_id, "failed", error=message)
    except Exception:
        message = why  # left as it is: tried again later
    finally:
        await lease.release()
    done.failed[run_id] = message


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, PlaitError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def work(
    store: Any = None,
    *,
    interval: float = 5.0,
    load: Loader = load_definition,
    on_pass: Callable[[Recovered], None] | None = None,
) -> None:
    """Look for runs to recover every ``interval`` seconds, until cancelled. A look that
    fails (the store is unreachable) is reported in :attr:`Recovered.error`, and the
    worker looks again after ``interval``."""
    backoff = _Backoff(first=max(interval, 1.0))
    async with owned_store(store) as the_store:
        while True:
            try:
                result = await _look(the_store, load, 100, backoff)
            except Exception as exc:
                result = Recovered(error=mask_secrets(_reason(exc)))
                log.warning("plait worker: looking for runs failed: %s", result.error)
            if on_pass is not None:
                on_pass(result)
            await asyncio.sleep(interval)
