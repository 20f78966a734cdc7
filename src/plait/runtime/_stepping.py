"""How one step runs: arguments, the cache, timeouts, retries, ``ask()``, completion.

:class:`StepRunner` is the run loop's collaborator that runs a step attempt and records
what it did; the loop decides what runs next, :class:`~plait.runtime._ending.RunEnd` how
the run ends.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import traceback
from typing import TYPE_CHECKING, Any

from plait.plan import Plan, PlanStep
from plait.runtime._bindings import Binding
from plait.runtime._cache import Hit, cache_key, lookup, remember
from plait.runtime._context import StepContext, _current
from plait.runtime._events import (
    CacheHit,
    InputRequested,
    RouteTaken,
    StateChanged,
    StateSnapshot,
    StepCompleted,
    StepFailed,
    StepStarted,
)
from plait.runtime._failures import error_text, step_error, unstored
from plait.runtime._input import InputNeeded, requested
from plait.runtime._recorder import Recorder
from plait.runtime._scheduler import StartStep
from plait.runtime._tracking import diff, revert, snapshot
from plait.runtime._triggers import route_label
from plait.runtime.ports import Executor

if TYPE_CHECKING:
    from plait.runtime._ending import RunEnd
    from plait.runtime._loop import RunLoop


SNAPSHOT_EVERY = 500
"""A run stores its whole state once every this many state patches (``StateSnapshot``),
so reading the state at a late point starts from the snapshot before it."""


def _cancelled_for_real() -> bool:
    """Whether a ``CancelledError`` comes from cancelling this task (not raised by a step)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class StepRunner:
    """Runs step attempts for a run and records what they did. Its own state: the state
    as last recorded (``committed``, what a step's changes are found against) and the
    count of state patches; the loop (:class:`~plait.runtime.RunLoop`) starts what a
    completion makes ready, and :class:`~plait.runtime._ending.RunEnd` ends the run."""

    def __init__(
        self,
        loop: RunLoop,
        rec: Recorder,
        end: RunEnd,
        plan: Plan,
        bindings: dict[str, Binding],
        executor: Executor,
        state: Any,
        owner: Any,
    ) -> None:
        self.loop = loop
        self.rec = rec
        self.end = end
        self.plan = plan
        self.bindings = bindings
        self.executor = executor
        self.state = state
        self.owner = owner
        self.run_id = rec.run_id
        self.store = rec.store
        self.view = rec.view
        self.record = rec.record  # bound once: these are on every step's path
        self.new = rec.new
        self.flush = rec.flush
        self.steps: dict[str, PlanStep] = plan.by_name
        self.caches = hasattr(rec.store, "cache_get")
        self.awaits = getattr(executor, "awaits_async_steps", False) is True
        """Await ``async def`` steps here, not through ``executor.call``."""
        self.committed: dict[str, Any] = {}
        """The state as last recorded: copies, never the live containers."""
        self.patches = 0

    def start_state(self) -> dict[str, Any]:
        """Take the state as it is now as the recorded one (a run's start, a resume)."""
        self.committed = snapshot(self.live_now())
        return self.committed

    async def run_step(self, cmd: StartStep) -> StartStep | None:
        name, invocation = cmd.step, cmd.invocation
        spec = self.steps[name]
        binding = self.bindings[name]
        retry, timeout = spec.retry, spec.timeout
        attempt = cmd.attempt
        ctx = StepContext(self.run_id, self.plan.name, name, invocation, attempt, self.loop)
        key: str | None = None
        token = _current.set(ctx)
        try:
            while True:
                t0 = time.perf_counter()
                try:
                    args, kwargs = binding.arguments(
                        self.owner, cmd.payload, self.view.outputs, self.state
                    )
                    if spec.cache is not None and self.caches:
                        key = cache_key(
                            self.plan.name,
                            name,
                            spec.cache,
                            binding.fn,
                            args[1:] if binding.method else args,
                            kwargs,
                            self.live_now(),
                        )
                        hit = None if key is None else await self._cached(name, invocation, key)
                        if hit is not None:
                            output, key = hit.output, None  # nothing new to remember
                            break
                    if timeout is None:
                        if binding.is_async and self.awaits:
                            output = await binding.fn(*args, **kwargs)
                            break
                        output = await self.executor.call(
                            binding.fn, args, kwargs, binding.is_async
                        )
                        if not binding.is_async and inspect.isawaitable(output):
                            output = await output  # an async step behind a sync decorator
                    else:
                        async with asyncio.timeout(timeout):
                            output = await self.executor.call(
                                binding.fn, args, kwargs, binding.is_async
                            )
                            if not binding.is_async and inspect.isawaitable(output):
                                output = await output
                    break
                except BaseException as exc:
                    if isinstance(exc, asyncio.CancelledError) and _cancelled_for_real():
                        raise
                    if self.end.finished:
                        return None
                    if type(exc) is InputNeeded:
                        return await self._asked(ctx, exc)
                    retrying = (
                        retry is not None
                        and isinstance(exc, Exception)
                        and retry.should_retry(exc, attempt)
                    )
                    self.record(
                        self.new(
                            StepFailed,
                            step=name,
                            invocation=invocation,
                            attempt=attempt,
                            error=error_text(str(exc) or type(exc).__name__),
                            error_type=type(exc).__name__,
                            traceback=error_text("".join(traceback.format_exception(exc))),
                            retrying=retrying,
                            duration=time.perf_counter() - t0,
                        )
                    )
                    if not retrying:
                        await self.end.fail(
                            step_error(
                                exc,
                                self.plan.name,
                                self.run_id,
                                name,
                                attempt,
                                timeout,
                                self.plan.kind,
                            ),
                            name,
                        )
                        return None
                    # What the failed attempt wrote is not kept: the retry starts afresh.
                    revert(self.committed, self.live_now(), name, self.view.active)
                    await self.flush()
                    await asyncio.sleep(retry.delay(attempt))  # type: ignore[union-attr]
                    attempt += 1
                    ctx.attempt = attempt
                    ctx.maps = ctx.asks = ctx.emits = 0
                    ctx.replays = None
                    self.record(
                        self.new(StepStarted, step=name, invocation=invocation, attempt=attempt)
                    )
        finally:
            _current.reset(token)
        if self.end.finished:
            return None
        return await self._completed(name, invocation, output, time.perf_counter() - t0, key)

    async def _cached(self, name: str, invocation: int, key: str) -> Hit | None:
        """The cached result of this call, with the state changes it made put back."""
        hit = await lookup(self.store, key)
        if hit is None:
            return None
        live = self.live_now()
        writers = getattr(live, "writers", None)
        for field, value in hit.changes.items():
            dict.__setitem__(live, field, value)
            if writers is not None:
                writers[field] = name
        for field in hit.removed:
            if field in live:
                dict.__delitem__(live, field)
        self.record(self.new(CacheHit, step=name, invocation=invocation, key=key))
        return hit

    async def _completed(
        self, name: str, invocation: int, output: Any, duration: float, key: str | None = None
    ) -> StartStep | None:
        rec = self.rec
        state = self.state  # the mapping behind it (see live_now), inlined on this hot path
        live = state if isinstance(state, dict) else state.__dict__
        changes, removed = diff(
            self.committed, live, name, getattr(live, "writers", None), self.view.active
        )
        if key is not None:
            policy = self.steps[name].cache
            if policy is not None:
                await remember(self.store, key, policy, output, changes, removed)
        if changes or removed:
            rec.seq += 1  # next_seq(), inlined on this hot path
            self.record(
                StateChanged(
                    run_id=self.run_id,
                    seq=rec.seq,
                    ts=time.time(),
                    step=name,
                    changes=changes,
                    removed=removed,
                )
            )
            self.patches += 1
            if self.patches % SNAPSHOT_EVERY == 0:
                self.record(self.new(StateSnapshot, state=dict(self.committed)))
        label = None
        if self.steps[name].kind == "router":
            label = route_label(output)  # None, or a label nobody hears, ends the branch
        rec.seq += 1  # next_seq(), inlined on this hot path
        self.record(
            StepCompleted(
                run_id=self.run_id,
                seq=rec.seq,
                ts=time.time(),
                step=name,
                invocation=invocation,
                output=output,
                duration=duration,
            )
        )
        if label is not None:
            rec.seq += 1  # next_seq(), inlined on this hot path
            self.record(
                RouteTaken(
                    run_id=self.run_id,
                    seq=rec.seq,
                    ts=time.time(),
                    step=name,
                    invocation=invocation,
                    label=label,
                )
            )
        try:
            stored = (rec.immediate or rec.sync) and rec.flush_now()
        except Exception as exc:
            await self._unstored(name, exc)
            return None
        if not stored and not await self._durable(name):
            return None
        loop = self.loop
        first = loop.start_ready(True)
        if loop.ending is not None:
            await loop.end_now()
        return first

    async def _unstored(self, name: str, exc: BaseException) -> None:
        await self.end.fail(unstored(exc, self.plan.name, self.run_id, name, self.plan.kind), name)

    async def _durable(self, name: str) -> bool:
        """Make ``name``'s completion durable before anything that depends on it starts
        (``durability="sync"``, and always in memory), or start committing it and go on
        (``"async"``). False when it could not be stored: the run has failed, naming it."""
        if self.rec.immediate or self.rec.sync:
            try:
                await self.flush()
            except Exception as exc:
                await self._unstored(name, exc)
                return False
            return True
        # durability="async": the next steps start while this commits. The log is written
        # in order, so no later completion is durable before this one.
        if self.rec.store_error is not None:
            await self._unstored(name, self.rec.store_error)
            return False
        self.rec.flush_soon()
        return True

    async def _asked(self, ctx: StepContext, signal: InputNeeded) -> StartStep | None:
        """The step stopped in ``ask()``: what it wrote is undone (it runs again from its
        start once answered); the run goes on with what else can run."""
        revert(self.committed, self.live_now(), ctx.step, self.view.active)
        self.record(self.new(InputRequested, **requested(ctx, signal)))
        if not await self._durable(ctx.step):
            return None
        return await self.loop.launch(inline=True)

    def live_now(self) -> dict[str, Any]:
        """The mapping behind the state now: pydantic models with ``validate_assignment``
        replace their ``__dict__`` on every assignment."""
        state = self.state
        return state if isinstance(state, dict) else state.__dict__
