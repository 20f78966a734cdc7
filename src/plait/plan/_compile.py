"""``compile()``: a flow or workflow definition -> a validated :class:`Plan`.

Every problem found is collected at once. Errors — what cannot run at all — raise a
:class:`PlanError`. For flows, what runs but maybe not as meant (a label nobody hears, a
step nothing triggers: flows CrewAI runs as well) is a warning, kept in
``Plan.warnings`` and logged once, on the ``plait.plan`` logger, when the plan is made;
``compile(..., strict=True)`` raises them as a :class:`PlanError` too.
"""

from __future__ import annotations

import difflib
import gc
import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from plait.core import DefinitionError, PlanError
from plait.define import (
    AllOf,
    AnyOf,
    Condition,
    Flow,
    Leaf,
    StepDef,
    Workflow,
    assignment_problem,
    leaves,
    reducers_of,
    state_fields,
    task_params,
)
from plait.plan._checks import check_dag, check_graph
from plait.plan._emits import emitted_events
from plait.plan._model import Plan, PlanStep
from plait.plan._source import router_labels, state_writes


def definition_parts(
    definition: Any,
) -> tuple[str, str, dict[str, StepDef], type | None, Mapping[str, Callable[..., Any]], int]:
    """(name, kind, steps, state type, declared reducers, default max calls)."""
    if isinstance(definition, Workflow):
        wf = definition
        return (
            wf.name,
            "workflow",
            dict(wf.__plait_steps__),
            wf.__plait_state_type__,
            wf.reducers,
            wf.max_calls,
        )
    cls = definition if isinstance(definition, type) else type(definition)
    if not (isinstance(cls, type) and issubclass(cls, Flow)):
        raise DefinitionError(
            f"cannot compile {definition!r}: expected a Flow subclass, a Flow instance or a "
            "Workflow"
        )
    return (
        cls.name,
        "flow",
        dict(cls.__plait_steps__),
        cls.__plait_state_type__,
        cls.reducers,
        cls.max_calls,
    )


_CACHE: weakref.WeakKeyDictionary[type, Plan] = weakref.WeakKeyDictionary()
"""Plan per Flow class. Weak: a class made at run time (each ``FlowBuilder`` makes one)
goes away with its last reference, and its plan with it."""
log = logging.getLogger("plait.plan")


def compile(definition: Any, *, strict: bool = False) -> Plan:
    """Check a definition and turn it into a :class:`Plan`.

    Raises :class:`PlanError` listing every error; with ``strict=True`` the warnings
    count as errors too. Plans are cached: per Flow class, and per Workflow until a task
    is added to it; a plan's warnings are logged when it is made.
    """
    if isinstance(definition, Workflow):
        plan: Plan | None = definition.plan
        if plan is None:
            plan = definition.plan = _made(definition, strict)
    else:
        cls = definition if isinstance(definition, type) else type(definition)
        plan = _CACHE.get(cls)
        if plan is None:
            plan = _CACHE[cls] = _made(definition, strict)
    if strict and plan.warnings:
        raise PlanError(plan.name, plan.warnings, kind=plan.kind)
    return plan


def _made(definition: Any, strict: bool) -> Plan:
    plan = _compile(definition, strict)
    if plan.warnings:
        count = len(plan.warnings)
        lines = "".join(f"\n  - {w}" for w in plan.warnings)
        log.warning(
            "%s %r compiles with %d %s (it runs; compile(..., strict=True) refuses it):%s",
            plan.kind,
            plan.name,
            count,
            "warning" if count == 1 else "warnings",
            lines,
        )
    return plan


def _compile(definition: Any, strict: bool) -> Plan:
    # Compiling makes many small objects and no reference cycles: pausing the cyclic
    # garbage collector keeps it from rescanning them (it made 100k-step plans 40% slower).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _compile_now(definition, strict)
    finally:
        if paused:
            gc.enable()


def _compile_now(definition: Any, strict: bool) -> Plan:
    name, kind, steps, state_type, declared_reducers, default_calls = definition_parts(definition)
    problems: list[str] = []  # errors: it cannot run
    warnings: list[str] = []  # it runs, but maybe not as meant (flows only)
    # Flows accept what CrewAI accepts; a task graph's problems stay errors.
    doubts = problems if kind == "workflow" else warnings
    broken: set[str] = set()  # steps with an unknown reference, already reported
    if not steps:
        doubts.append("it has no steps, so a run does nothing: mark entry steps with @start()")
        _raise(name, kind, problems, warnings, strict)
        return Plan(name=name, kind=kind, steps=(), warnings=tuple(warnings))  # type: ignore[arg-type]

    labels: dict[str, tuple[str, ...] | None] = {}
    for step in steps.values():
        if step.kind == "router":
            declared = step.options.labels or router_labels(step.fn)  # labels= / emit=
            labels[step.name] = None if declared is None else tuple(dict.fromkeys(declared))
    known_labels = {lab for labs in labels.values() for lab in (labs or ())}
    open_routers = [r for r, labs in labels.items() if labs is None]

    def unknown(ref: str, owner: str) -> None:
        hint = difflib.get_close_matches(ref, [*steps, *known_labels], n=1)
        fix = f"; did you mean {hint[0]!r}?" if hint else ""
        if kind == "workflow":
            problems.append(
                f"step {owner!r} depends on {ref!r}, but no step or router label has that name{fix}"
            )
        else:  # a router may return it at run time (CrewAI: it just never fires)
            warnings.append(
                f"step {owner!r} listens to {ref!r}, but no step or router label has that "
                f"name, so it runs only if a router returns {ref!r}{fix}"
            )
        broken.add(owner)

    def resolve(cond: Condition, owner: str) -> Condition:
        if kind == "workflow":  # dependency names, already made as step leaves
            for leaf in leaves(cond):
                if leaf.name not in steps:
                    unknown(leaf.name, owner)
            return cond
        if isinstance(cond, AnyOf | AllOf):
            return type(cond)(tuple(resolve(c, owner) for c in cond.children))
        if cond.kind != "ref":
            return cond
        ref = cond.name
        if ref == owner:  # a step cannot wait for itself: it means the label (CrewAI
            # refuses a step listening to its own name)
            if ref not in known_labels and not open_routers:
                warnings.append(
                    f"step {owner!r} listens to its own name, which it takes as a router "
                    f"label, but no router returns {ref!r}, so it never runs that way"
                )
                broken.add(owner)
            return Leaf("label", ref)
        if ref in steps:
            if ref in known_labels:  # one namespace: either fires it (CrewAI)
                owners = ", ".join(repr(r) for r, labs in labels.items() if ref in (labs or ()))
                warnings.append(
                    f"step {owner!r} listens to {ref!r}, which is a step and also a label of "
                    f"router {owners}: it runs when either happens; rename one to tell "
                    "them apart"
                )
            return Leaf("step", ref)
        if ref not in known_labels and not open_routers:
            unknown(ref, owner)
        return Leaf("label", ref)

    plan_steps: list[PlanStep] = []
    writes_of: dict[str, tuple[str, ...]] = {}
    augmented_of: dict[str, tuple[str, ...]] = {}
    for step in steps.values():
        trigger = None if step.condition is None else resolve(step.condition, step.name)
        if step.options.writes is not None:
            writes: tuple[str, ...] = step.options.writes
            augmented: tuple[str, ...] = ()
        elif kind == "flow":
            writes, augmented = state_writes(step.fn)
        else:
            writes, augmented = (), ()
        writes_of[step.name] = writes
        augmented_of[step.name] = augmented
        max_calls = step.options.max_calls
        if max_calls is None:
            max_calls = default_calls
        plan_steps.append(
            PlanStep(
                name=step.name,
                kind=step.kind,
                start=step.start,
                trigger=trigger,
                ref=step.ref,
                is_async=step.is_async,
                takes_input=step.takes_input,
                retry=step.options.retry,
                timeout=step.options.timeout,
                cache=step.options.cache,
                max_calls=max_calls,
                labels=labels.get(step.name),
                writes=writes,
                depends_on=step.depends_on,
                emits=emitted_events(step.fn) if kind == "flow" else (),
            )
        )

    reducers = reducers_of(state_type, declared_reducers)
    fields = state_fields(state_type)
    problem = assignment_problem(state_type, reducers)
    if problem:
        problems.append(problem)
    if fields is not None:
        for step_name, keys in writes_of.items():
            for key in keys:
                if key not in fields:
                    doubts.append(
                        f"step {step_name!r} writes state.{key}, but state "
                        f"{state_type.__name__ if state_type else ''} has no field {key!r}"
                    )
    for step_name, keys in augmented_of.items():
        for key in keys:
            if key in reducers:
                problems.append(
                    f"step {step_name!r} uses an augmented assignment (+=) on state key "
                    f"{key!r}, which has a reducer; assign only the contribution "
                    f"(state.{key} = value) and the reducer merges it"
                )
    if kind == "workflow" and fields is not None:
        _check_task_params(steps, fields, problems)

    if kind == "workflow":
        check_dag(plan_steps, writes_of, set(reducers), problems)
    else:
        check_graph(plan_steps, writes_of, set(reducers), warnings, broken)
    _raise(name, kind, problems, warnings, strict)
    return Plan(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        steps=tuple(plan_steps),
        state_type=""
        if state_type is None
        else f"{state_type.__module__}:{state_type.__qualname__}",
        state_fields=fields,
        reducers=tuple(sorted(reducers)),
        warnings=tuple(warnings),
    )


def _raise(name: str, kind: str, errors: list[str], warnings: list[str], strict: bool) -> None:
    """Raise every error at once (and every warning too, when ``strict``)."""
    if errors or (strict and warnings):
        raise PlanError(name, [*errors, *warnings] if strict else errors, kind=kind)


def _check_task_params(
    steps: dict[str, StepDef], fields: tuple[str, ...], problems: list[str]
) -> None:
    for step in steps.values():
        required, _, _ = task_params(step.fn)
        for param in required:
            if param not in step.depends_on and param not in fields:
                problems.append(
                    f"task {step.name!r} takes {param!r}, which is neither one of its "
                    f"dependencies ({', '.join(step.depends_on) or 'none'}) nor a state field"
                )
