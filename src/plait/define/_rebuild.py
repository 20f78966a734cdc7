"""From a stored :class:`plait.Plan` and the code of its steps back to a definition.

A plan is data: it names each step's code (``ref``) but does not hold it. Given
``bindings`` — step name -> callable — these helpers make the step definitions the plan
was compiled from, and check that compiling them gives the stored plan again (up to the
code itself: ``ref``, ``is_async`` and ``takes_input`` follow the bindings).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any

from plait.core import DefinitionError
from plait.define._policies import StepOptions
from plait.define._steps import StepDef, is_async_callable, takes_payload
from plait.define._workflow import Workflow

_FROM_CODE = {"ref": "", "is_async": False, "takes_input": False}
"""Plan step fields the bindings decide, not the plan."""


def check_plan(plan: Any, caller: str) -> None:
    """``plan`` is a compiled plan (what ``from_plan`` rebuilds), not its stored form."""
    if not all(hasattr(plan, a) for a in ("name", "kind", "steps", "step_names")):
        what = type(plan).__name__
        hint = (
            " (a stored run keeps only the plan's name and code reference: compile the "
            "flow, or read a whole stored plan with plait.Plan.from_dict)"
            if isinstance(plan, Mapping)
            else ""
        )
        raise DefinitionError(
            f"{caller} takes a plait.Plan (compile(flow), or plait.Plan.from_dict(data) for "
            f"one saved with to_dict()), got {what}{hint}"
        )


def check_bindings(plan: Any, bindings: Mapping[str, Callable[..., Any]]) -> None:
    """Each step of ``plan`` has one callable in ``bindings``, and nothing else does."""
    if not isinstance(bindings, Mapping):
        raise DefinitionError(
            f"plan {plan.name!r}: bindings must map step names to callables, got "
            f"{type(bindings).__name__}"
        )
    names = list(plan.step_names)
    missing = [n for n in names if n not in bindings]
    extra = [k for k in bindings if k not in set(names)]
    wrong = [n for n in names if n in bindings and not callable(bindings[n])]
    if not (missing or extra or wrong):
        return
    parts = []
    if missing:
        parts.append(f"missing bindings for step(s) {_listed(missing)}")
    if extra:
        hints = []
        for key in extra:
            near = difflib.get_close_matches(str(key), missing or names, n=1)
            hints.append(f"{key!r} (did you mean {near[0]!r}?)" if near else repr(key))
        parts.append(f"extra bindings {', '.join(hints)} name no step of the plan")
    if wrong:
        parts.append(f"the bindings of {_listed(wrong)} are not callable")
    raise DefinitionError(
        f"plan {plan.name!r}: {'; '.join(parts)}. Its steps are {_listed(names)}; bind "
        "each to the function that runs it"
    )


def flow_steps(plan: Any, bindings: Mapping[str, Callable[..., Any]]) -> dict[str, StepDef]:
    """The step definitions of flow ``plan``, running ``bindings``."""
    if plan.kind != "flow":
        raise DefinitionError(
            f"plan {plan.name!r} is a {plan.kind} plan; FlowBuilder.from_plan takes flow "
            "plans (use Workflow.from_plan)"
        )
    check_bindings(plan, bindings)
    steps: dict[str, StepDef] = {}
    for s in plan.steps:
        fn = bindings[s.name]
        steps[s.name] = StepDef(
            name=s.name,
            fn=fn,
            kind=s.kind,
            start=s.start,
            condition=s.trigger,  # resolved leaves: compile keeps them as they are
            options=StepOptions(
                retry=s.retry,
                timeout=s.timeout,
                max_calls=s.max_calls,
                writes=tuple(s.writes),
                labels=s.labels,
                cache=s.cache,
            ),
            is_async=is_async_callable(fn),
            takes_input=takes_payload(fn, start=s.start),
        )
    return steps


def workflow_of(
    plan: Any,
    bindings: Mapping[str, Callable[..., Any]],
    state: type | None,
    reducers: Mapping[str, Callable[[Any, Any], Any]] | None,
) -> Workflow:
    """Workflow ``plan`` again, running ``bindings``."""
    if plan.kind != "workflow":
        raise DefinitionError(
            f"plan {plan.name!r} is a {plan.kind} plan; Workflow.from_plan takes workflow "
            "plans (use FlowBuilder.from_plan)"
        )
    check_bindings(plan, bindings)
    calls = {s.max_calls for s in plan.steps}
    wf = Workflow(plan.name, state=state, reducers=reducers)
    if len(calls) == 1:
        wf.max_calls = calls.pop()
    for s in plan.steps:
        wf.add(
            bindings[s.name],
            name=s.name,
            depends_on=s.depends_on,
            retry=s.retry,
            timeout=s.timeout,
            writes=s.writes,
            cache=s.cache,
        )
    return wf


def check_same(stored: Any, rebuilt: Any) -> None:
    """``rebuilt`` (compiled from the bindings) is the ``stored`` plan, up to the code."""
    diffs = []
    for field in ("kind", "state_type", "state_fields", "reducers"):
        had, has = getattr(stored, field), getattr(rebuilt, field)
        if had != has:
            diffs.append(f"{field}: the plan has {had!r}, the definition gives {has!r}")
    for had, has in zip(stored.steps, rebuilt.steps, strict=True):
        a = dataclasses.replace(had, **_FROM_CODE)
        b = dataclasses.replace(has, **_FROM_CODE)
        if a != b:
            fields = [
                f.name for f in dataclasses.fields(a) if getattr(a, f.name) != getattr(b, f.name)
            ]
            diffs.append(f"step {had.name!r}: {', '.join(fields)} differ")
    if diffs:
        raise DefinitionError(
            f"plan {stored.name!r}: the definition made from it compiles to another plan "
            f"({'; '.join(diffs)}); pass the state model and reducers the plan was "
            "compiled with"
        )


def _listed(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)
