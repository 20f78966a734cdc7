"""The offline default, end to end: ``Model("local:smollm2")`` (in-process llama.cpp)
through structured output, an agent with a tool, and a flow that records every call.
Structure only, never wording."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from plait import Flow, start
from plait.agents import Agent
from plait.llm import Model, calculator, usage
from tests.llm.test_local_provider import needs_model


class City(BaseModel):
    name: str
    population: int


@needs_model
def test_structured_output_on_the_local_model_fits_the_schema() -> None:
    model = Model("local:smollm2", max_tokens=48)
    city = asyncio.run(model.structured("Name a big city and its population.", City))
    assert isinstance(city, City)


@needs_model
def test_an_agent_on_the_local_model_works_in_a_recorded_flow(monkeypatch: Any) -> None:
    monkeypatch.delenv("PLAIT_MODEL", raising=False)

    class Maths(Flow):
        @start()
        async def solve(self) -> str:
            agent = Agent(  # llm=None: the default, the local model
                "Calculator",
                "Compute exactly",
                tools=[calculator],
                max_tokens=48,
                max_iterations=3,
                on_max_iterations="answer",
            )
            return (await agent.run("What is 12 * 7?")).text

    flow = Maths()
    assert isinstance(flow.kickoff(), str)
    totals = usage(flow.events)
    assert 1 <= totals.total.model_calls <= 3
    assert totals.total.cost == 0.0 and totals.total.output_tokens > 0
