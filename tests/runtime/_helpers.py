"""Plain-value builders for the pure runtime tests: plans, events in sequence."""

from __future__ import annotations

import itertools
from typing import Any

from plait.define import AllOf, AnyOf, Condition, Leaf
from plait.plan import Plan, PlanStep
from plait.runtime import Event


def step(name: str) -> Leaf:
    return Leaf("step", name)


def label(name: str) -> Leaf:
    return Leaf("label", name)


def any_(*children: Condition) -> AnyOf:
    return AnyOf(children)


def all_(*children: Condition) -> AllOf:
    return AllOf(children)


def plan_of(*steps: PlanStep, name: str = "p") -> Plan:
    return Plan(name=name, kind="flow", steps=steps)


class Log:
    """Makes events for one run with increasing ``seq``; keeps them in order."""

    def __init__(self, run_id: str = "r1") -> None:
        self.run_id = run_id
        self.events: list[Event] = []
        self._seq = itertools.count(1)

    def __call__(self, cls: type[Event], **fields: Any) -> Event:
        event = cls(run_id=self.run_id, seq=next(self._seq), ts=0.0, **fields)
        self.events.append(event)
        return event


def join_pending(view: Any, listener: str) -> bool:
    """Whether ``listener`` has and_ progress waiting in ``view`` (flat join or tree)."""
    return any(getattr(view, name, {}).get(listener) for name in ("joins", "trees"))
