"""``Task`` and ``Crew``: work for agents, alone or as a team (CrewAI's shapes).

A task's description (and expected output) may hold ``{placeholders}`` filled from the
inputs. A task sees the outputs of its ``context`` tasks — in a sequential crew, of every
task before it when it names none. A hierarchical crew gives each task to a manager agent
whose one tool delegates work to a coworker by role.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from plait.agents._agent import Agent, AgentResult
from plait.core import AgentError, DefinitionError, InputError
from plait.llm import Model, Tool, Usage

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(text: str, inputs: Mapping[str, Any], where: str) -> str:
    """``text`` with each ``{name}`` replaced by ``inputs[name]`` (other braces stay)."""
    return _fill_all([text], inputs, where)[0]


def _fill_all(texts: Sequence[str], inputs: Mapping[str, Any], where: str) -> list[str]:
    """Each text filled on its own (an input may hold any character); every missing
    input named in one error."""
    missing = sorted({m for text in texts for m in _PLACEHOLDER.findall(text) if m not in inputs})
    if missing:
        asked = ", ".join(f"{m!r}: ..." for m in missing)
        raise InputError(
            f"{where} uses {', '.join('{' + m + '}' for m in missing)}, which the inputs do "
            f"not give; pass inputs={{{asked}}}"
        )
    return [_PLACEHOLDER.sub(lambda m: str(inputs[m.group(1)]), text) for text in texts]


def _blocking(what: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise AgentError(
        f"{what}() blocks, so it cannot run inside an event loop; use  await {what}_async(...)"
    )


@dataclass
class TaskOutput:
    """A finished task: ``raw`` text, ``output`` (the ``output_type`` object, else the
    text), which agent did it, and what it used."""

    description: str
    agent: str
    raw: str
    output: Any
    tool_calls: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    def __str__(self) -> str:
        return self.raw


class Task:
    """``Task(description, expected_output, agent, context=[...], output_type=Model)``."""

    def __init__(
        self,
        description: str,
        expected_output: str = "",
        agent: Agent | None = None,
        *,
        context: Sequence[Task] = (),
        output_type: Any = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(description, str) or not description.strip():
            raise DefinitionError("a task needs a description")
        if agent is not None and not isinstance(agent, Agent):
            raise DefinitionError(f"Task(agent=...) must be an Agent, got {agent!r}")
        for other in context:
            if not isinstance(other, Task):
                raise DefinitionError(f"Task(context=...) lists tasks, got {other!r}")
        self.description = description
        self.expected_output = expected_output
        self.agent = agent
        self.context = list(context)
        self.output_type = output_type
        self.name = name or description.strip().splitlines()[0][:40]
        self.output: TaskOutput | None = None

    def __repr__(self) -> str:
        return f"Task({self.name!r})"

    async def execute_async(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        agent: Agent | None = None,
        context: str = "",
    ) -> TaskOutput:
        """Run the task with its agent (or ``agent``); ``context`` adds to what its
        context tasks produced."""
        worker = agent or self.agent
        if worker is None:
            raise DefinitionError(f"task {self.name!r} has no agent: Task(..., agent=...)")
        values = dict(inputs or {})
        description, expected = _fill_all(
            [self.description, self.expected_output], values, f"task {self.name!r}"
        )
        seen = [t.output.raw for t in self.context if t.output is not None]
        if context:
            seen.append(context)
        result: AgentResult = await worker.run(
            description,
            expected_output=expected,
            context="\n\n".join(seen),
            output_type=self.output_type,
        )
        self.output = TaskOutput(
            description=description,
            agent=worker.role,
            raw=result.text,
            output=result.output,
            tool_calls=result.tool_calls,
            usage=result.usage,
        )
        return self.output

    def execute(self, inputs: Mapping[str, Any] | None = None, **options: Any) -> TaskOutput:
        """Blocking form of :meth:`execute_async` (also inside a ``def`` step)."""
        _blocking("execute")
        return asyncio.run(self.execute_async(inputs, **options))


@dataclass
class CrewOutput:
    """A crew's work: the last task's output (``raw``, ``output``), every task's, and the
    tokens used in all."""

    raw: str
    output: Any
    tasks_output: list[TaskOutput]
    token_usage: Usage

    def __str__(self) -> str:
        return self.raw


Process = Literal["sequential", "hierarchical"]


class Crew:
    """Agents working tasks: ``process="sequential"`` runs the tasks in order, each with
    its own agent; ``"hierarchical"`` has a manager agent delegate each task."""

    def __init__(
        self,
        agents: Sequence[Agent],
        tasks: Sequence[Task],
        *,
        process: Process = "sequential",
        manager: Agent | None = None,
        manager_llm: Model | str | None = None,
        verbose: bool = False,
    ) -> None:
        if process not in ("sequential", "hierarchical"):
            raise DefinitionError(
                f"Crew process must be 'sequential' or 'hierarchical', not {process!r}"
            )
        if not tasks:
            raise DefinitionError("a crew needs at least one task")
        self.agents = list(agents)
        self.tasks = list(tasks)
        self.process = process
        self.verbose = verbose
        if process == "sequential":
            for task in self.tasks:
                if task.agent is None:
                    raise DefinitionError(
                        f"task {task.name!r} has no agent; a sequential crew needs one per task"
                    )
        else:
            if not self.agents:
                raise DefinitionError("a hierarchical crew needs agents to delegate to")
            self.manager = manager or Agent(
                "Crew Manager",
                "Get each task done well by giving it to the right coworker and checking "
                "the result",
                "You lead a team and know each coworker's strengths.",
                llm=manager_llm if manager_llm is not None else self.agents[0]._llm,
                max_iterations=max(4, len(self.agents) + 2),
            )
            delegate = self._delegate_tool()  # this crew's: a shared manager gets no second
            self.manager.tools = [t for t in self.manager.tools if t.name != delegate.name]
            self.manager.tools.append(delegate)

    def _delegate_tool(self) -> Tool:
        coworkers = {a.role: a for a in self.agents}

        async def delegate_work(coworker: str, task: str, context: str = "") -> str:
            """Give a piece of work to a coworker and get their answer.

            Args:
                coworker: The coworker's role, exactly as listed.
                task: What they should do, with everything they need to know.
                context: Anything else they should know.
            """
            agent = coworkers.get(coworker) or next(
                (a for role, a in coworkers.items() if role.lower() == coworker.lower()), None
            )
            if agent is None:
                raise ValueError(f"no coworker {coworker!r}; coworkers: {', '.join(coworkers)}")
            return (await agent.run(task, context=context)).text

        tool = Tool(delegate_work, timeout=None)
        tool.description += " Coworkers: " + ", ".join(coworkers) + "."
        return tool

    async def kickoff_async(self, inputs: Mapping[str, Any] | None = None) -> CrewOutput:
        """Run every task; the crew's output is the last task's."""
        values = dict(inputs or {})
        done: list[TaskOutput] = []
        for task in self.tasks:
            context = "" if task.context else "\n\n".join(o.raw for o in done)
            if self.process == "sequential":
                out = await task.execute_async(values, context=context)
            else:
                out = await task.execute_async(values, agent=self.manager, context=context)
            done.append(out)
        usage = Usage()
        for out in done:
            usage = usage + out.usage
        last = done[-1]
        return CrewOutput(raw=last.raw, output=last.output, tasks_output=done, token_usage=usage)

    def kickoff(self, inputs: Mapping[str, Any] | None = None) -> CrewOutput:
        """Blocking form of :meth:`kickoff_async` (also inside a ``def`` step)."""
        _blocking("kickoff")
        return asyncio.run(self.kickoff_async(inputs))
