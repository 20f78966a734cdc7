"""``RunLoop``: the one place a run does I/O.

It decides what runs and when, with three collaborators, each with its own state: the
:class:`~plait.runtime._recorder.Recorder` (events, the view, the store), the
:class:`~plait.runtime._stepping.StepRunner` (a step attempt and what it did) and
:class:`~plait.runtime._ending.RunEnd` (how the run ends). After a step completes the
worker asks the scheduler what to do; it runs the first new step itself (no task switch
for chains and loops) and starts the others as tasks, so a fast branch never waits for a
slow one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

from plait.core import LoopLimitError, RunError
from plait.plan import Plan
from plait.runtime._bindings import Binding
from plait.runtime._context import StepContext
from plait.runtime._ending import RunEnd
from plait.runtime._events import (
    Event,
    EventEmitted,
    InputReceived,
    RunResumed,
    RunStarted,
    StepStarted,
)
from plait.runtime._lease import Lease, create_run
from plait.runtime._map import map_items
from plait.runtime._recorder import Listener, Recorder
from plait.runtime._scheduler import Command, CompleteRun, FailRun, StartStep, WaitRun, decide
from plait.runtime._stepping import StepRunner
from plait.runtime._triggers import TriggerIndex
from plait.runtime._view import RunView, apply
from plait.runtime.ports import Executor, Store

_YIELD_EVERY = 64
"""Steps a worker runs back to back before letting other tasks in."""


class RunLoop:
    """Runs one plan once. ``await run(inputs)`` returns the run's output or raises."""

    def __init__(
        self,
        plan: Plan,
        bindings: dict[str, Binding],
        *,
        store: Store,
        executor: Executor,
        run_id: str,
        state: Any,
        listeners: Iterable[Listener] = (),
        index: TriggerIndex | None = None,
        result: Callable[[RunView], Any] | None = None,
        owner: Any = None,
        lease: Lease | None = None,
        durability: str = "sync",
    ) -> None:
        rec = Recorder(
            run_id, store, RunView(index or TriggerIndex.build(plan)), listeners, durability
        )
        self.rec = rec
        self.end = RunEnd(rec, plan, self._interrupt)
        self.steps = StepRunner(self, rec, self.end, plan, bindings, executor, state, owner)
        self.plan = plan
        self.bindings = bindings
        self.executor = executor
        self.state = state
        self.owner = owner
        self.run_id = run_id
        self.store = store
        self.view = rec.view
        self.listeners = rec.listeners
        self.aio = rec.aio
        self.record = rec.record  # what steps record through their context
        self.new = rec.new
        self.flush = rec.flush
        self.ref: str | None = None
        """What the stored plan names to find the code again (``module:Name``, set by the
        engine); by default the owner's class."""
        self._result = result
        if "call_limits" not in plan.cache:  # made once per plan, not per run
            plan.cache["call_limits"] = {s.name: s.max_calls for s in plan.steps}
        self._limits: dict[str, int] = plan.cache["call_limits"]
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[Any] | None = None
        self._inline = False
        self._interrupted = False
        self._lease = lease
        if lease is None and not rec.immediate:
            self._lease = Lease(store, run_id)
        self._started_pending = False
        self.ending: Command | None = None
        """How the scheduler last said the run ends, not acted on yet (see start_ready)."""

    @property
    def events(self) -> list[Event]:
        """Every event of this run recorded by this process (a resume's, the stored ones)."""
        return self.rec.events

    async def run(self, inputs: dict[str, Any], *, stored: bool = False) -> Any:
        """Run from the start; return the output or raise the run's error. ``stored``:
        the store already has the run's record but no events (its first process died
        between the two), so the run starts over under its own id."""
        self.end.started = time.perf_counter()
        now = time.time()
        lease = self._lease
        if stored:
            await self.store.set_status(self.run_id, "running")
        else:
            await create_run(
                self.store,
                lease,
                run_id=self.run_id,
                flow=self.plan.name,
                created_at=now,
                updated_at=now,
                inputs=dict(inputs),
                plan=self._plan_dict(),
            )
        if lease is not None:
            await self._take_lease()
        try:
            committed = self.steps.start_state()
            self.record(
                self.new(
                    RunStarted,
                    flow=self.plan.name,
                    inputs=dict(inputs),
                    state=dict(committed),
                )
            )
            await self.flush()
            first = await self.launch(inline=True)
        except BaseException:
            await self._release()
            raise
        return await self._drive(first)

    def _plan_dict(self) -> dict[str, Any]:
        """What the store keeps about the plan with the run: enough to find its code."""
        owner = type(self.owner)
        ref = self.ref
        if ref is None:
            ref = "" if self.plan.kind == "workflow" else f"{owner.__module__}:{owner.__qualname__}"
        return {
            "format": self.plan.format,
            "name": self.plan.name,
            "kind": self.plan.kind,
            "ref": ref,
        }

    async def resume(self, events: list[Event]) -> Any:
        """Go on from a stored log: steps that completed are not run again; steps that had
        started (or failed last) run again; then the run goes on as usual."""
        self.end.started = time.perf_counter()
        await self._take_lease()
        try:
            return await self._drive(await self._resumed(events))
        except BaseException:
            await self._release()
            raise

    async def _resumed(self, events: list[Event]) -> StartStep | None:
        for event in events:
            apply(self.view, event)
        self.rec.events = list(events)
        self.rec.seq = events[-1].seq if events else 0
        self.steps.start_state()
        view = self.view
        answered = [key for key in view.waiting if not self._unanswered(key)]
        again = sorted({*view.running, *view.failed, *answered}, key=lambda k: (k[1], k[0]))
        self.record(self.new(RunResumed, rerun=tuple(step for step, _ in again)))
        now = time.time()
        for ask in list(view.asks.values()):  # waits that ran out of time answer now
            if ask.deadline is not None and ask.deadline <= now:
                self.record(
                    self.new(
                        InputReceived,
                        step=ask.step,
                        invocation=ask.invocation,
                        key=ask.key,
                        value=ask.default,
                        timed_out=True,
                    )
                )
                key2 = (ask.step, ask.invocation)
                if key2 not in again and not self._unanswered(key2):
                    again.append(key2)
        # Durable first: of two processes resuming one run, the second fails here (its
        # RunResumed does not follow the log any more) before it runs anything.
        await self.flush()
        await self.store.set_status(self.run_id, "running")
        for step, invocation in again:
            key2 = (step, invocation)
            attempt = view.running.get(key2) or view.waiting.get(key2, 1)
            attempt += 1
            cmd = StartStep(step, invocation, view.payloads.get((step, invocation)), attempt)
            self.record(self.new(StepStarted, step=step, invocation=invocation, attempt=attempt))
            self._spawn(cmd)
        return await self.launch(inline=True)

    async def _take_lease(self) -> None:
        """Own the run (durable stores): take its lease and keep it while the run runs."""
        if self._lease is not None:
            if not self._lease.held:  # resume takes it before reading the log
                await self._lease.take()
            self._lease.keep(self._lost)

    async def _release(self) -> None:
        if self._lease is not None:
            await asyncio.shield(self._lease.release())

    def _lost(self, error: BaseException) -> None:
        """The lease could not be renewed: stop at once and write nothing more, since
        another process may own the run now."""
        stopped = RunError(
            f"run {self.run_id} stopped here: {error}", flow=self.plan.name, run_id=self.run_id
        )
        self.end.stop(error, stopped)

    def _interrupt(self) -> None:
        """The run ended elsewhere (a failure, a lost lease): stop the step that ``run()``
        is running itself, if any."""
        main = self._main
        if self._inline and main is not None and asyncio.current_task() is not main:
            self._interrupted = True
            main.cancel()

    def _unanswered(self, key: tuple[str, int]) -> bool:
        return any((a.step, a.invocation) == key for a in self.view.asks.values())

    async def _drive(self, first: StartStep | None) -> Any:
        """Run ``first`` here and wait for the run to end."""
        self._main = asyncio.current_task()
        try:
            # The first ready step runs in this coroutine: no task switch for short runs.
            # When the run fails elsewhere meanwhile, _fail() cancels it here.
            self._inline = True
            try:
                await self._worker(first)
            except asyncio.CancelledError:
                if not self._interrupted:
                    raise
                self._main.uncancel()  # type: ignore[union-attr]
            finally:
                self._inline = False
            return await self.end.done
        except asyncio.CancelledError:
            await asyncio.shield(self.end.cancelled())
            raise
        finally:
            if self._tasks:
                await self._stop_tasks()
            if self._lease is not None:
                await self._release()

    async def _stop_tasks(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def launch(self, *, inline: bool) -> StartStep | None:
        """Act on the scheduler's commands; return the step the caller should run itself."""
        first = self.start_ready(inline)
        if self.ending is not None:
            await self.end_now()
        return first

    def start_ready(self, inline: bool) -> StartStep | None:
        """Start the steps the scheduler says are ready; return the one the caller should
        run itself (``inline``). When the scheduler says the run ends instead, that is
        left in ``ending`` for :meth:`end_now` (the hot path awaits nothing else)."""
        first: StartStep | None = None
        started = False
        rec = self.rec
        for cmd in decide(self.plan, self.view, self._limits):
            if type(cmd) is StartStep:
                started = True
                rec.seq += 1  # next_seq(), inlined on this hot path
                self.record(
                    StepStarted(
                        run_id=self.run_id,
                        seq=rec.seq,
                        ts=time.time(),
                        step=cmd.step,
                        invocation=cmd.invocation,
                    )
                )
                if inline and first is None:
                    first = cmd
                else:
                    self._spawn(cmd)
            else:  # it comes alone: complete, wait or fail
                self.ending = cmd
        if started and not rec.immediate and not self._started_pending:
            # Store the StepStarted events soon, in the background, so that a long step
            # shows as running; a step that ends without yielding stores them with its
            # completion, and this finds nothing left to do.
            self._started_pending = True
            self.aio.call_soon(self._store_started)
        return first

    async def end_now(self) -> None:
        """End the run as the scheduler said (see :meth:`start_ready`)."""
        cmd, self.ending = self.ending, None
        if type(cmd) is CompleteRun:
            await self.end.complete(cmd.output if self._result is None else self._result(self.view))
        elif type(cmd) is WaitRun:
            await self.end.wait()
        elif type(cmd) is FailRun:
            err = LoopLimitError(cmd.reason, flow=self.plan.name, run_id=self.run_id)
            await self.end.fail(err, cmd.step)

    def _store_started(self) -> None:
        self._started_pending = False
        if not self.rec.closed:
            self.rec.flush_soon()

    def _spawn(self, cmd: StartStep) -> None:
        task = self.aio.create_task(self._worker(cmd))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        """Forget a finished worker. Steps' exceptions never escape a worker (they fail
        the run instead); anything else that does is the run's failure too."""
        self._tasks.discard(task)
        if task.cancelled() or self.end.finished:
            return
        error = task.exception()
        if error is not None:
            failing = self.aio.create_task(self.end.fail(error, ""))
            self._tasks.add(failing)
            failing.add_done_callback(self._tasks.discard)

    async def _worker(self, cmd: StartStep | None) -> None:
        ran = 0
        run_step = self.steps.run_step
        end = self.end
        while cmd is not None and not end.finished:
            cmd = await run_step(cmd)
            ran += 1
            if ran % _YIELD_EVERY == 0:
                await asyncio.sleep(0)

    # -- inside steps ------------------------------------------------------------

    def emit(self, ctx: StepContext, name: str, payload: Any) -> None:
        """Record an event from a step; from a worker thread, hand it to the loop."""
        if self.end.finished:
            raise RunError("the run has finished", flow=self.plan.name, run_id=self.run_id)
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        ctx.emits += 1
        key = (ctx.step, ctx.invocation, ctx.emits)
        if key in self.view.emitted:
            return  # emitted by an earlier attempt or process: its listeners have run
        if here is self.aio:
            self._emit_now(key, name, payload)
        else:
            self.aio.call_soon_threadsafe(self._emit_now, key, name, payload)

    def _emit_now(self, key: tuple[str, int, int], name: str, payload: Any) -> None:
        if self.end.finished:
            return
        step, invocation, index = key
        self.record(
            self.new(
                EventEmitted,
                step=step,
                name=name,
                payload=payload,
                invocation=invocation,
                index=index,
            )
        )
        task = self.aio.create_task(self._after_emit())
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    async def _after_emit(self) -> None:
        await self.flush()  # the event is durable before its listeners start
        await self.launch(inline=False)

    async def map(
        self,
        ctx: StepContext,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        concurrency: int | None,
    ) -> list[Any]:
        return await map_items(self, ctx, fn, items, concurrency)
