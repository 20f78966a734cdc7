"""Recovery: find stored runs that nobody runs any more and finish them.

``recover(store)`` looks once; ``work(store)`` keeps looking (``plait worker``). A run is
taken up when

- its status is ``running`` and its lease ran out, or its owner is a dead process on this
  machine (the process that ran it crashed), or
- its status is ``waiting`` and it can go on: an answer was stored without resuming
  (``respond(..., resume=False)``), or a wait ran past its timeout.

Taking a run up is an ordinary ``resume``, whose lease makes sure that of several workers
exactly one runs it. The flow class comes from the run's stored plan (``module:Class``);
pass ``load=`` to find definitions another way (workflows, say).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plait.core import PlaitError, RunBusyError, RunError, WaitingForInput
from plait.engine._backends import open_store
from plait.engine._engine import ENGINE, _index
from plait.engine._respond import can_go_on
from plait.plan import compile
from plait.runtime import RunRecord, Store, is_stale, replay

log = logging.getLogger("plait.worker")

Loader = Callable[[RunRecord], Any]


@dataclass(slots=True)
class Recovered:
    """What one look at the store did, by run id."""

    completed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    """Runs left alone, with why (another worker took them, no code to run them)."""


def load_definition(record: RunRecord) -> Any:
    """A fresh instance of the flow class the run's stored plan names."""
    plan = record.plan or {}
    ref = str(plan.get("ref") or "")
    if plan.get("kind") == "workflow" or ":" not in ref:
        raise RunError(
            f"run {record.run_id} of {record.flow!r}: its stored plan names no flow class "
            "(workflows are objects, not classes); recover it with load=... or "
            "plait runs resume RUN_ID TARGET",
            flow=record.flow,
            run_id=record.run_id,
        )
    module, _, qualname = ref.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise RunError(
            f"run {record.run_id}: cannot import its flow {ref!r} ({exc}); run the worker "
            "where that code imports (its folder, or PYTHONPATH)",
            flow=record.flow,
            run_id=record.run_id,
        ) from exc
    return found()


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
    own = store is None or isinstance(store, str)
    the_store: Store = await open_store(store)
    done = Recovered()
    try:
        now = time.time()
        candidates = [
            *await the_store.list_runs(status="running", limit=limit),
            *await the_store.list_runs(status="waiting", limit=limit),
        ]
        for record in candidates:
            if not await _due(record, now):
                continue
            await _take_up(the_store, record, load, done)
    finally:
        if own:
            await the_store.close()
    return done


async def _take_up(store: Store, record: RunRecord, load: Loader, done: Recovered) -> None:
    run_id = record.run_id
    try:
        definition = load(record)
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
    except PlaitError as exc:
        now = await store.get_run(run_id)
        if now is not None and now.status == "completed":  # another worker finished it
            done.skipped[run_id] = f"another process completed it meanwhile ({exc})"
        else:
            done.failed[run_id] = str(exc)
    else:
        done.completed.append(run_id)


async def work(
    store: Any = None,
    *,
    interval: float = 5.0,
    load: Loader = load_definition,
    on_pass: Callable[[Recovered], None] | None = None,
) -> None:
    """Look for runs to recover every ``interval`` seconds, until cancelled."""
    the_store: Store = await open_store(store)
    try:
        while True:
            result = await recover(the_store, load=load)
            if on_pass is not None:
                on_pass(result)
            await asyncio.sleep(interval)
    finally:
        if store is None or isinstance(store, str):
            await the_store.close()
