"""What a run's AI steps cost: model and tool calls, tokens and money, per step and in all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from plait.runtime import ModelCalled, ToolCalled


@dataclass
class StepUsage:
    model_calls: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = 0.0
    """USD; None when some call's model has no price."""
    latency: float = 0.0
    """Seconds spent waiting for models and tools."""

    def add(self, event: Any) -> None:
        if isinstance(event, ModelCalled):
            self.model_calls += 1
            self.input_tokens += event.input_tokens
            self.output_tokens += event.output_tokens
            self.cost = None if self.cost is None or event.cost is None else self.cost + event.cost
        else:
            self.tool_calls += 1
        self.latency += event.latency


@dataclass
class RunUsage:
    """Totals of a run's model and tool calls, and the same per step."""

    total: StepUsage = field(default_factory=StepUsage)
    steps: dict[str, StepUsage] = field(default_factory=dict)


def usage(events: Iterable[Any]) -> RunUsage:
    """Sum the ``ModelCalled`` and ``ToolCalled`` events of a run (``flow.events``, or a
    stored log)."""
    out = RunUsage()
    for event in events:
        if isinstance(event, ModelCalled | ToolCalled):
            out.total.add(event)
            out.steps.setdefault(event.step, StepUsage()).add(event)
    return out
