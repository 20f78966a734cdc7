"""Bind a plan's steps to the definition's code."""

from __future__ import annotations

from typing import Any, Literal

from plait.define import Flow, Workflow, task_params
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
            out[step.name] = Binding(
                fn, step.is_async, "payload" if step.takes_input else "none", method=True
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
