"""Bind a plan's steps to the definition's code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from plait.define import TRIGGER_PAYLOAD, Flow, Workflow, takes_trigger_payload, task_params
from plait.plan import Plan
from plait.runtime import Binding


def bindings_for(definition: Any, plan: Plan) -> dict[str, Binding]:
    """The code behind each step, made once per plan (flows pass their instance as the
    owner of each call)."""
    found = plan.cache.get("bindings")
    if found is None:
        found = plan.cache["bindings"] = _bind(definition, plan)
    return found


def _bind(definition: Any, plan: Plan) -> dict[str, Binding]:
    out: dict[str, Binding] = {}
    if isinstance(definition, Flow):
        cls = type(definition)
        for step in plan.steps:
            fn = cls.__plait_steps__[step.name].fn
            if step.start and takes_trigger_payload(fn):
                fn = _with_trigger_payload(fn)
            # A start step gets no argument (its parameters keep their defaults), as in
            # CrewAI, even when a label starts it; a listener gets what triggered it.
            out[step.name] = Binding(
                fn,
                step.is_async,
                "payload" if step.takes_input and not step.start else "none",
                method=True,
            )
        return out
    if not isinstance(definition, Workflow):
        raise TypeError(f"cannot bind {definition!r}")
    for step in plan.steps:
        fn = definition.__plait_steps__[step.name].fn
        required, optional, var_kw = task_params(fn)
        deps = set(step.depends_on)
        params = (
            *((name, _source(name, deps, "state")) for name in required),
            *((name, _source(name, deps, "optional")) for name in optional),
        )
        out[step.name] = Binding(
            fn,
            step.is_async,
            "params" if params or var_kw else "none",
            params,
            step.depends_on,
            var_kw,
        )
    return out


def _with_trigger_payload(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (a start step) called with the run's ``crewai_trigger_payload`` input, when
    it has one, as CrewAI does."""

    def call(owner: Any, *args: Any) -> Any:
        payload = owner._trigger_payload
        if payload is None:
            return fn(owner, *args)
        return fn(owner, *args, **{TRIGGER_PAYLOAD: payload})

    call.__name__ = getattr(fn, "__name__", "step")
    call.__qualname__ = getattr(fn, "__qualname__", call.__name__)
    return call


def _source(
    name: str, deps: set[str], otherwise: Literal["state", "optional"]
) -> Literal["dep", "state", "optional"]:
    """Where a task parameter's value comes from (``Binding.params``; mypy checks that
    these literals match the runtime's)."""
    return "dep" if name in deps else otherwise


def inputs_needed(definition: Any, plan: Plan) -> tuple[tuple[str, str], ...]:
    """(task, parameter) for each task parameter that only the run's inputs can give: not
    a dependency, without a default (workflows with dict state)."""
    found = plan.cache.get("inputs_needed")
    if found is None:
        found = plan.cache["inputs_needed"] = tuple(
            (task, name)
            for task, binding in bindings_for(definition, plan).items()
            for name, source in binding.params
            if source == "state"
        )
    return found


def workflow_result(plan: Plan, outputs: dict[str, Any]) -> Any:
    """The outputs of the tasks nothing depends on: one value, or ``{task: output}``."""
    needed = {dep for s in plan.steps for dep in s.depends_on}
    sinks = [s.name for s in plan.steps if s.name not in needed]
    if len(sinks) == 1:
        return outputs.get(sinks[0])
    return {name: outputs.get(name) for name in sinks}
