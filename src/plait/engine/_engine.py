"""The engine behind ``Flow.kickoff()`` and ``Workflow.run()``: compile, bind, run."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from typing import Any

from plait.core import InputError, RunError, WaitingForInput, new_run_id
from plait.define import (
    TRIGGER_PAYLOAD,
    Flow,
    build_state,
    is_model_type,
    reducers_of,
)
from plait.engine._backends import owned_store
from plait.engine._bind import bindings_for, workflow_result
from plait.engine._checks import (
    check_durability,
    check_run_id,
    check_task_inputs,
    new_run_id_free,
    stored_log,
)
from plait.engine._loader import definition_ref
from plait.engine._respond import can_go_on, record_answer
from plait.executors import LocalExecutor
from plait.plan import Plan, compile, render
from plait.runtime import (
    Event,
    Executor,
    Lease,
    RunLoop,
    Store,
    TriggerIndex,
    ask_in_step,
    current_context,
    fit,
    replay,
    request_input,
    waiting_error,
)

log = logging.getLogger("plait")


def _index(plan: Plan) -> TriggerIndex:
    index = plan.cache.get("trigger_index")
    if index is None:
        index = plan.cache["trigger_index"] = TriggerIndex.build(plan)
    if not isinstance(index, TriggerIndex):
        raise TypeError("plan cache holds a foreign trigger index")
    return index


def _safe(fn: Callable[[Event], None]) -> Callable[[Event], None]:
    def call(event: Event) -> None:
        try:
            fn(event)
        except Exception:
            log.exception("plait: an event subscriber raised; the run goes on")

    return call


class Engine:
    """What definitions run on: the ``Engine`` protocol of their port in ``plait.define``."""

    async def run(
        self,
        definition: Any,
        inputs: Mapping[str, Any] | None,
        *,
        store: Any = None,
        executor: Any = None,
        run_id: str | None = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        stored: bool = False,
        durability: str = "sync",
    ) -> Any:
        """Run ``definition``; ``store`` is a Store or URL, ``executor`` an Executor.
        ``stored``: the store already holds this run id with no events (see resume).
        ``durability``: ``"sync"`` or ``"async"`` (see :mod:`plait.runtime._recorder`)."""
        plan = compile(definition)
        check_durability(plan, durability)
        if inputs is not None and not isinstance(inputs, Mapping):
            raise InputError(
                f"{plan.kind} {plan.name!r}: inputs must be a mapping of names to values, "
                f"got {type(inputs).__name__}; pass a dict such as inputs={{'topic': 'AI'}}"
            )
        inputs = dict(inputs or {})
        payload = None
        if isinstance(definition, Flow):
            # The state's id is the run's (see Flow): the first run of an instance takes
            # the id its state got when it was made, inputs={"id": ...} names the run.
            run_id = run_id or definition._next_run_id(inputs)
            state = definition._new_state(inputs, run_id)
            definition._ran = True
            payload = inputs.get(TRIGGER_PAYLOAD)
            subscribers = [*definition._listeners, *listeners]
        else:
            run_id = run_id or new_run_id()
            state_type = definition.__plait_state_type__
            if not is_model_type(state_type):
                check_task_inputs(definition, plan, inputs)
            reducers = reducers_of(state_type, definition.reducers)
            state = build_state(plan.name, state_type, None, inputs, run_id, reducers)
            definition.state = state
            subscribers = list(listeners)
        check_run_id(plan, run_id)
        definition.run_id = run_id
        async with owned_store(store, for_one_run=True) as the_store:
            own_store = the_store is not store
            fresh = own_store and getattr(the_store, "immediate", False)  # a new memory store
            if not (stored or fresh) and isinstance(definition, Flow):
                await new_run_id_free(the_store, run_id, plan)
            loop = self._loop(
                definition, plan, the_store, executor, run_id, state, subscribers, None, durability
            )
            if not getattr(the_store, "immediate", False):  # a store other processes read
                loop.ref = definition_ref(definition)  # how the stored run names its code
            return await self._execute(
                definition, loop, loop.run(inputs, stored=stored), own_store, executor, payload
            )

    async def resume(
        self,
        definition: Any,
        run_id: str,
        *,
        store: Any = None,
        executor: Any = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        durability: str = "sync",
    ) -> Any:
        """Go on with a stored run: completed steps are not run again."""
        plan = compile(definition)
        check_durability(plan, durability)
        async with owned_store(store) as the_store:
            return await self._resume(
                definition,
                plan,
                run_id,
                the_store,
                the_store is not store,
                executor,
                listeners,
                durability,
            )

    async def _resume(
        self,
        definition: Any,
        plan: Plan,
        run_id: str,
        the_store: Store,
        own_store: bool,
        executor: Any,
        listeners: Iterable[Callable[[Any], None]],
        durability: str,
    ) -> Any:
        lease = None
        payload = None
        try:
            if not getattr(the_store, "immediate", False) and await the_store.get_run(run_id):
                # Own the run before reading its log: what we read then stays the log.
                lease = Lease(the_store, run_id)
                await lease.take()
            found = await stored_log(the_store, run_id, plan)
            events, record = found.events, found.record
            if events:
                view = replay(_index(plan), events)
                if view.status == "waiting" and not can_go_on(view, time.time()):
                    asks = sorted(view.asks.values(), key=lambda a: a.seq)
                    raise waiting_error(plan.name, run_id, asks)
                if isinstance(definition, Flow):
                    state = definition._restored_state(view.state, run_id)
                    definition._ran = True  # its next kickoff is a new run, with a new id
                    started = events[0]
                    payload = getattr(started, "inputs", {}).get(TRIGGER_PAYLOAD)
                else:
                    state_type = definition.__plait_state_type__
                    reducers = reducers_of(state_type, definition.reducers)
                    state = build_state(plan.name, state_type, None, view.state, run_id, reducers)
        except BaseException:
            if lease is not None:
                await lease.release()
            raise
        if not events:  # its first process died before anything ran: start it over
            if lease is not None:
                await lease.release()  # run() takes its own
            return await self.run(
                definition,
                record.inputs,
                store=the_store,
                executor=executor,
                run_id=run_id,
                listeners=listeners,
                stored=True,
                durability=durability,
            )
        if isinstance(definition, Flow):
            subscribers = [*definition._listeners, *listeners]
        else:
            definition.state = state
            subscribers = list(listeners)
        definition.run_id = run_id
        loop = self._loop(
            definition, plan, the_store, executor, run_id, state, subscribers, lease, durability
        )
        work = loop.resume(events)
        return await self._execute(definition, loop, work, own_store, executor, payload)

    async def respond(
        self,
        definition: Any,
        run_id: str,
        value: Any,
        *,
        request: str | None = None,
        resume: bool = True,
        text: bool = False,
        store: Any = None,
        **options: Any,
    ) -> Any:
        """Answer what waiting run ``run_id`` asks, then (``resume``) resume it."""
        plan = compile(definition)
        async with owned_store(store) as the_store:
            await record_answer(
                the_store,
                run_id,
                plan.name,
                value,
                request=request,
                text=text,
                definition=definition,
            )
            if not resume:
                return None
            return await self.resume(definition, run_id, store=the_store, **options)

    def _loop(
        self,
        definition: Any,
        plan: Plan,
        store: Store,
        executor: Executor | None,
        run_id: str,
        state: Any,
        subscribers: list[Callable[[Any], None]],
        lease: Lease | None = None,
        durability: str = "sync",
    ) -> RunLoop:
        return RunLoop(
            plan,
            bindings_for(definition, plan),
            store=store,
            executor=executor or LocalExecutor(),
            run_id=run_id,
            state=state,
            listeners=[_safe(fn) for fn in subscribers],
            index=_index(plan),
            owner=definition,
            lease=lease,
            durability=durability,
            result=(lambda view: workflow_result(plan, view.outputs))
            if plan.kind == "workflow"
            else None,
        )

    async def _execute(
        self,
        definition: Any,
        loop: RunLoop,
        work: Coroutine[Any, Any, Any],
        own_store: bool,
        executor: Executor | None,
        payload: Any = None,
    ) -> Any:
        # One definition may serve many runs at once: a flow's steps see their own run's
        # state and id through the scope it enters here (see plait.define._flow_run).
        flow = isinstance(definition, Flow)
        scope = definition._enter_run(loop.state, loop.run_id, payload) if flow else None
        try:
            return await work
        except WaitingForInput as waiting:
            if own_store and getattr(loop.store, "immediate", False):
                waiting.args = (
                    f"{waiting} — but this run was kept in memory (no store=... and no "
                    "PLAIT_STORE), so nothing can answer it once this call returns: run it "
                    'with a durable store, e.g. store="sqlite:///runs.db"',
                )
            raise
        finally:
            if scope is not None:
                definition._leave_run(scope, loop.events)
            else:
                definition.events = loop.events
            if executor is None:
                await loop.executor.close()

    async def stream(
        self, definition: Any, inputs: Mapping[str, Any] | None, **options: Any
    ) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        extra = list(options.pop("listeners", ()))
        task = asyncio.get_running_loop().create_task(
            self.run(definition, inputs, listeners=[queue.put_nowait, *extra], **options)
        )
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            await task  # raises the run's error, after its RunFailed event
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def render(self, definition: Any, fmt: str) -> str:
        return render(compile(definition), fmt)

    def plan(self, definition: Any) -> Plan:
        return compile(definition)

    def emit(self, name: str, payload: Any) -> None:
        current_context().emit(name, payload)

    async def map(self, fn: Callable[[Any], Any], items: Any, concurrency: int | None) -> list[Any]:
        return await current_context().map(fn, items, concurrency)

    def ask(
        self,
        flow: Any,
        prompt: str,
        *,
        timeout: float | None,
        metadata: dict[str, Any] | None,
        schema: Any,
        default: Any,
    ) -> Any:
        provider = getattr(flow, "input_provider", None)
        try:
            ctx = current_context()
        except RunError:
            if provider is None:
                raise
            ctx = None
        if ctx is None:  # outside a run, as in CrewAI: the provider answers, unrecorded
            text = request_input(provider, prompt, flow, metadata, timeout)
            return fit(text, schema, default, prompt)
        return ask_in_step(
            ctx, prompt, timeout=timeout, metadata=metadata, schema=schema, default=default
        )


ENGINE = Engine()
