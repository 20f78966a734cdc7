"""The engine behind ``Flow.kickoff()`` and ``Workflow.run()``: compile, bind, run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from plait.core import RunError, new_run_id
from plait.define import Flow, build_state, state_dict
from plait.define._state import reducers_of
from plait.engine._backends import open_store
from plait.engine._bind import bindings_for, workflow_result
from plait.executors import LocalExecutor
from plait.plan import Plan, compile
from plait.plan._render import render
from plait.runtime import Event, Executor, RunLoop, Store, TriggerIndex, current_context

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
    """Implements the definitions' port (``plait.define._port.Engine``)."""

    async def run(
        self,
        definition: Any,
        inputs: Mapping[str, Any] | None,
        *,
        store: Any = None,
        executor: Any = None,
        run_id: str | None = None,
        listeners: Iterable[Callable[[Any], None]] = (),
    ) -> Any:
        """Run ``definition``; ``store`` is a Store or URL, ``executor`` an Executor."""
        plan = compile(definition)
        run_id = run_id or new_run_id()
        inputs = dict(inputs or {})
        if isinstance(definition, Flow):
            if definition._running:
                raise RunError(
                    f"flow {plan.name!r} is already running on this instance; create "
                    "another instance to run it twice at once",
                    flow=plan.name,
                )
            state = definition._new_state(inputs, run_id)
            definition._state = state
            subscribers = [*definition._listeners, *listeners]
        else:
            state_type = definition.__plait_state_type__
            reducers = reducers_of(state_type, definition.reducers)
            state = build_state(plan.name, state_type, None, inputs, run_id, reducers)
            definition.state = state
            subscribers = list(listeners)
        definition.run_id = run_id
        own_store = store is None or isinstance(store, str)
        the_store: Store = open_store(store)
        own_executor = executor is None
        the_executor: Executor = executor or LocalExecutor()
        loop = RunLoop(
            plan,
            bindings_for(definition, plan),
            store=the_store,
            executor=the_executor,
            run_id=run_id,
            state=state,
            live=state_dict(state),
            listeners=[_safe(fn) for fn in subscribers],
            index=_index(plan),
            owner=definition,
            result=(lambda view: workflow_result(plan, view.outputs))
            if plan.kind == "workflow"
            else None,
        )
        if isinstance(definition, Flow):
            definition._running = True
        try:
            output = await loop.run(inputs)
        finally:
            if isinstance(definition, Flow):
                definition._running = False
            definition.events = loop.events
            if own_executor:
                await the_executor.close()
            if own_store:
                await the_store.close()
        return output

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

    def emit(self, name: str, payload: Any) -> None:
        current_context().emit(name, payload)

    async def map(self, fn: Callable[[Any], Any], items: Any, concurrency: int | None) -> list[Any]:
        return await current_context().map(fn, items, concurrency)


ENGINE = Engine()
