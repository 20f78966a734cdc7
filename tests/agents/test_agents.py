"""Agents, tasks and crews driven by a scripted model: the tool loop (native and JSON
protocol), tool errors, iteration limits, structured output, crews, and use in flows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel

from plait import Flow, InputError, MaxIterationsError, listen, start
from plait.agents import Agent, Crew, Task
from plait.llm import Model, ScriptedProvider, ToolCall, calculator, tool, usage
from plait.runtime import ModelCalled, ToolCalled


def model(*script: Any, native: bool = True) -> Model:
    return Model("m", provider=ScriptedProvider(script, native_tools=native))


def requests_of(m: Model) -> list[Any]:
    return m.provider.requests  # type: ignore[attr-defined,no-any-return]


def test_native_tool_loop() -> None:
    m = model(ToolCall(id="c1", name="calculator", arguments={"expression": "2 + 3"}), "It is 5.")
    agent = Agent("Mathematician", "Compute things", tools=[calculator], llm=m)
    result = asyncio.run(agent.run("What is 2 + 3?"))
    assert (result.output, result.iterations, result.tool_calls) == ("It is 5.", 2, ["calculator"])
    first, second = requests_of(m)
    assert first.messages[0].content.startswith("You are Mathematician. Your goal: Compute")
    assert [t.name for t in first.tools] == ["calculator"]
    assert second.messages[-1].role == "tool" and second.messages[-1].content == "5.0"
    assert second.messages[-2].tool_calls[0].id == "c1"


def test_json_protocol_for_models_without_native_tools() -> None:
    m = model(
        json.dumps({"tool": "calculator", "arguments": {"expression": "6 * 7"}}),
        "not json at all",
        json.dumps({"final_answer": "42"}),
        native=False,
    )
    agent = Agent("Mathematician", tools=[calculator], llm=m)
    result = asyncio.run(agent.run("6 times 7?"))
    assert result.output == "42" and result.iterations == 3
    reqs = requests_of(m)
    assert "anyOf" in reqs[0].json_schema and not reqs[0].tools
    assert '{"tool": "<name>"' in reqs[0].messages[0].content
    assert reqs[1].messages[-1].content == "Result of calculator:\n```\n42.0\n```"
    assert "Answer again" in reqs[2].messages[-1].content


def test_tool_errors_unknown_tools_and_bad_arguments_go_back_to_the_model() -> None:
    m = model(
        ToolCall(id="1", name="teleport", arguments={}),
        ToolCall(id="2", name="calculator", arguments={"expr": "1"}),
        ToolCall(id="3", name="calculator", arguments={"expression": "1 / 0"}),
        "gave up",
    )
    agent = Agent("Tester", tools=[calculator], llm=m)
    result = asyncio.run(agent.run("go"))
    assert result.output == "gave up"
    told = [r.messages[-1].content for r in requests_of(m)[1:]]
    assert told[0] == "Error: there is no tool 'teleport'; the tools are: calculator"
    assert "wrong arguments" in told[1] and "expression: Field required" in told[1]
    assert "ZeroDivisionError" in told[2]


def test_max_iterations() -> None:
    loop = ToolCall(id="x", name="calculator", arguments={"expression": "1"})
    agent = Agent("Looper", tools=[calculator], llm=model(loop, loop, loop), max_iterations=3)
    with pytest.raises(MaxIterationsError, match="'Looper' used all 3 iterations"):
        asyncio.run(agent.run("never ends"))


class Outline(BaseModel):
    title: str
    sections: list[str]


def test_structured_task_output_and_placeholders() -> None:
    m = model("draft outline", '{"title": "AI", "sections": ["a", "b"]}')
    writer = Agent("Writer", "Plan articles", llm=m)
    task = Task(
        "Outline an article about {topic} for {audience}.",
        "An outline with {count} sections",
        writer,
        output_type=Outline,
    )
    out = task.execute({"topic": "AI", "audience": "doctors", "count": 2})
    assert out.output == Outline(title="AI", sections=["a", "b"]) and out.raw == "draft outline"
    prompt = requests_of(m)[0].messages[1].content
    assert "about AI for doctors" in prompt and "An outline with 2 sections" in prompt
    with pytest.raises(InputError, match=r"uses \{audience\}, \{count\}, which the inputs"):
        task.execute({"topic": "AI"})


def test_sequential_crew_passes_context_along() -> None:
    m = model("facts about {x}", "an article")
    researcher = Agent("Researcher", llm=m)
    writer = Agent("Writer", llm=m)
    research = Task("Research {topic}", "facts", researcher)
    write = Task("Write about {topic}", "an article", writer)
    out = Crew([researcher, writer], [research, write]).kickoff({"topic": "bees"})
    assert out.raw == "an article"
    assert [t.agent for t in out.tasks_output] == ["Researcher", "Writer"]
    assert "Context:\n```\nfacts about {x}\n```" in requests_of(m)[1].messages[1].content
    assert out.token_usage.output_tokens == 3 + 2  # words of the two scripted answers


def test_hierarchical_crew_delegates_through_the_manager() -> None:
    worker_model = model("the coworker's answer")
    manager_model = model(
        ToolCall(
            id="d1",
            name="delegate_work",
            arguments={"coworker": "Analyst", "task": "Count the bees"},
        ),
        "Final: the coworker's answer, checked",
    )
    analyst = Agent("Analyst", "Analyse", llm=worker_model)
    manager = Agent("Boss", "Lead", llm=manager_model)
    crew = Crew(
        [analyst], [Task("How many bees?", "a number")], process="hierarchical", manager=manager
    )
    out = crew.kickoff()
    assert out.raw == "Final: the coworker's answer, checked"
    assert requests_of(worker_model)[0].messages[1].content == "Count the bees"
    assert "Coworkers: Analyst." in requests_of(manager_model)[0].tools[0].description


def test_crews_inside_flow_steps_are_recorded_in_the_run() -> None:
    m = model(ToolCall(id="1", name="word_count", arguments={"text": "a b c"}), "3 words", "done")

    @tool
    def word_count(text: str) -> int:
        """Count words."""
        return len(text.split())

    class Content(Flow):
        @start()
        def research(self) -> str:  # a sync step: the crew runs in its thread
            agent = Agent("Counter", tools=[word_count], llm=m)
            return (
                Crew([agent], [Task("Count words in {text}", "a number", agent)])
                .kickoff({"text": "a b c"})
                .raw
            )

        @listen(research)
        async def finish(self, counted: str) -> str:
            agent = Agent("Closer", llm=m)
            return (await agent.run(f"Close: {counted}")).text

    flow = Content()
    assert flow.kickoff() == "done"
    kinds = [type(e).__name__ for e in flow.events if isinstance(e, ModelCalled | ToolCalled)]
    assert kinds == ["ModelCalled", "ToolCalled", "ModelCalled", "ModelCalled"]
    totals = usage(flow.events)
    assert totals.total.model_calls == 3 and totals.total.tool_calls == 1
    assert set(totals.steps) == {"research", "finish"}


def test_bad_definitions() -> None:
    from plait import DefinitionError

    with pytest.raises(DefinitionError, match="needs a role"):
        Agent("")
    with pytest.raises(DefinitionError, match="has no agent"):
        Crew([], [Task("x")])
    with pytest.raises(DefinitionError, match="'sequential' or 'hierarchical'"):
        Crew([], [Task("x")], process="parallel")  # type: ignore[arg-type]


def test_on_max_iterations_answer_forces_a_final_answer() -> None:
    loop = ToolCall(id="x", name="calculator", arguments={"expression": "1"})
    m = model(loop, loop, "best effort")
    agent = Agent("Looper", tools=[calculator], llm=m, max_iterations=3, on_max_iterations="answer")
    result = asyncio.run(agent.run("never ends"))
    assert (result.output, result.iterations) == ("best effort", 3)
    last = requests_of(m)[-1]
    assert last.tool_choice == "none" and [t.name for t in last.tools] == ["calculator"]
    assert last.messages[-1].content.startswith("Give your final answer now")
