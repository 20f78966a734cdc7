"""Bind a plan's steps to the definition's code."""

from __future__ import annotations

from typing import Any

from plait.define import Flow, Workflow, task_params
from plait.plan import Plan
from plait.runtime import Binding
from plait.runtime._bindings import Mode, Source


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
            mode: Mode = "payload" if step.takes_input else "none"
            out[step.name] = Binding(fn, step.is_async, mode, method=True)
        return out
    if not isinstance(definition, Workflow):
        raise TypeError(f"cannot bind {definition!r}")
    for step in plan.steps:
        fn = definition.__plait_steps__[step.name].fn
        required, optional, var_kw = task_params(fn)
        deps = set(step.depends_on)
        params: list[tuple[str, Source]] = []
        for name in required:
            params.append((name, "dep" if name in deps else "state"))
        for name in optional:
            params.append((name, "dep" if name in deps else "optional"))
        task_mode: Mode = "params" if params or var_kw else "none"
        out[step.name] = Binding(
            fn, step.is_async, task_mode, tuple(params), step.depends_on, var_kw
        )
    return out


def workflow_result(plan: Plan, outputs: dict[str, Any]) -> Any:
    """The outputs of the tasks nothing depends on: one value, or ``{task: output}``."""
    needed = {dep for s in plan.steps for dep in s.depends_on}
    sinks = [s.name for s in plan.steps if s.name not in needed]
    if len(sinks) == 1:
        return outputs.get(sinks[0])
    return {name: outputs.get(name) for name in sinks}
