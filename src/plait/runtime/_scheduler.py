"""The scheduler: from the run view to what to do next. Pure: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plait.plan import Plan
from plait.runtime._view import RunView


@dataclass(frozen=True, slots=True)
class StartStep:
    step: str
    invocation: int
    payload: Any
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class CompleteRun:
    output: Any


@dataclass(frozen=True, slots=True)
class FailRun:
    reason: str
    step: str
    kind: str  # "loop_limit"


@dataclass(frozen=True, slots=True)
class WaitRun:
    """Nothing runs and nothing is ready, but steps wait for a person's answer."""


Command = StartStep | CompleteRun | FailRun | WaitRun


def decide(plan: Plan, view: RunView, limits: dict[str, int]) -> list[Command]:
    """Start every ready step (in trigger order), or finish the run when nothing is ready
    and nothing runs (or stop it to wait, when steps wait for an answer). ``limits`` is each step's call limit."""
    if view.status != "running":
        return []
    ready = view.ready
    if not ready:
        if not view.running:
            return [WaitRun() if view.waiting else CompleteRun(view.last_output)]
        return []
    if len(ready) == 1:
        only = ready[0]
        count = view.calls.get(only.step, 0) + 1
        if count <= limits[only.step]:
            return [StartStep(only.step, count, only.payload)]
    out: list[Command] = []
    planned: dict[str, int] = {}
    for entry in ready:
        name = entry.step
        n = planned.get(name)
        if n is None:
            n = view.calls.get(name, 0)
        n += 1
        planned[name] = n
        if n > limits[name]:
            return [
                FailRun(
                    f"step {name!r} was called more than {limits[name]} times in flow "
                    f"{plan.name!r}: a loop that never ends? Raise its limit with "
                    f"max_calls=... on the step or the flow",
                    name,
                    "loop_limit",
                )
            ]
        out.append(StartStep(name, n, entry.payload))
    return out
