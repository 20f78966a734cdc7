"""The engine behind ``Flow.kickoff()`` and ``Workflow.run()``: compile, bind, run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any

from plait.core import InputError, RunError, new_run_id
from plait.define import Flow, build_state, is_model_type, live_mapping, reducers_of
from plait.engine._backends import open_store
from plait.engine._bind import bindings_for, inputs_needed, workflow_result
from plait.executors import LocalExecutor
from plait.plan import Plan, compile, render
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


def _check_task_inputs(definition: Any, plan: Plan, inputs: Mapping[str, Any]) -> None:
    """Every task parameter that only the inputs can give is in them (dict state)."""
    missing = [
        (task, name)
        for task, name in inputs_needed(definition, plan)
        if name not in inputs and name != "id"  # the state's id is the run id
    ]
    if not missing:
        return
    lines = [
        f"task {task!r} takes {name!r}, which is neither one of its dependencies nor in "
        "the run's inputs"
        for task, name in missing
    ]
    names = sorted({name for _, name in missing})
    example = ", ".join(f"{n!r}: ..." for n in names)
    raise InputError(
        f"workflow {plan.name!r}: " + "; ".join(lines) + f". Pass inputs={{{example}}}, "
        "give the parameter a default, or add the task it should come from to depends_on"
    )


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
    ) -> Any:
        """Run ``definition``; ``store`` is a Store or URL, ``executor`` an Executor."""
        plan = compile(definition)
        if inputs is not None and not isinstance(inputs, Mapping):
            raise InputError(
                f"{plan.kind} {plan.name!r}: inputs must be a mapping of names to values, "
                f"got {type(inputs).__name__}; pass a dict such as inputs={{'topic': 'AI'}}"
            )
        inputs = dict(inputs or {})
        if definition._running:
            again = (
                "create another instance to run it twice at once"
                if plan.kind == "flow"
                else "wait for that run to end, or define a second Workflow to run two at once"
            )
            raise RunError(
                f"{plan.kind} {plan.name!r} is already running; its state, run_id and "
                f"events describe one run at a time: {again}",
                flow=plan.name,
            )
        run_id = run_id or new_run_id()
        if isinstance(definition, Flow):
            state = definition._new_state(inputs, run_id)
            definition._state = state
            subscribers = [*definition._listeners, *listeners]
        else:
            state_type = definition.__plait_state_type__
            if not is_model_type(state_type):
                _check_task_inputs(definition, plan, inputs)
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
            live=live_mapping(state),
            listeners=[_safe(fn) for fn in subscribers],
            index=_index(plan),
            owner=definition,
            result=(lambda view: workflow_result(plan, view.outputs))
            if plan.kind == "workflow"
            else None,
        )
        definition._running = True  # no await since the check above: no race
        try:
            output = await loop.run(inputs)
        finally:
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
