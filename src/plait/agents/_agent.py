"""``Agent``: a role with a goal, a model and tools, working a task in a tool-calling loop.

With a model that calls tools itself (OpenAI, Anthropic...) the loop uses native tool
calls. With one that does not (the local model), it uses a JSON protocol: each answer is
one JSON object, either ``{"tool": name, "arguments": {...}}`` or ``{"final_answer":
"..."}``; with llama.cpp a grammar makes every answer such an object. A tool's error goes
back to the model as the tool's result, so it can correct itself; so do unknown tools and
wrong arguments. Every model and tool call is recorded in the run (see ``plait.llm``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from plait.core import AgentError, DefinitionError, MaxIterationsError, ToolError
from plait.define import current_step
from plait.llm import (
    Message,
    Model,
    Response,
    Tool,
    ToolCall,
    Usage,
    json_text,
    tool_fingerprint,
)
from plait.runtime import StepContext, ToolCalled


@dataclass
class AgentResult:
    """What an agent produced: ``output`` (text, or the ``output_type`` object), the final
    text, how many model turns it took, the tools it called, and the tokens it used."""

    output: Any
    text: str
    iterations: int
    tool_calls: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


_BACKTICKS = re.compile(r"`+")
_FINAL_ONLY: dict[str, Any] = {
    "type": "object",
    "properties": {"final_answer": {"type": "string"}},
    "required": ["final_answer"],
}


def section(header: str, text: str) -> str:
    """``header:`` then ``text`` between two fences of backticks, each longer than any run
    of backticks in ``text``: whatever ``text`` holds (a fence, a line like a header, NUL
    or other control characters) it cannot end its section or start another."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{header}:\n{fence}\n{text}\n{fence}"


def task_prompt(task: str, expected_output: str = "", context: str = "") -> str:
    """The user message for a task: the task alone as it is; with an expected output or a
    context, each part its own :func:`section` (``Task``, ``Expected output``, ``Context``)
    so that nothing in one part — an input, an earlier task's output — reads as another."""
    parts = [
        ("Task", task.strip()),
        ("Expected output", expected_output.strip()),
        ("Context", context.strip()),
    ]
    if not any(text for _, text in parts[1:]):
        return parts[0][1]
    return "\n\n".join(section(header, text) for header, text in parts if text)


def _as_tool(item: Tool | Callable[..., Any]) -> Tool:
    if isinstance(item, Tool):
        return item
    if callable(item):
        return Tool(item)
    raise DefinitionError(f"an agent's tools must be @tool functions or callables, got {item!r}")


class Agent:
    """``Agent(role, goal, backstory, tools=[...], llm="openai:gpt-4o-mini")``; ``llm``
    is a :class:`~plait.llm.Model`, a model name, or None (``PLAIT_MODEL``, else the
    local model). After ``max_iterations`` model turns it fails with
    :class:`MaxIterationsError`, or with ``on_max_iterations="answer"`` its last turn is
    asked for a final answer with no more tools (CrewAI's behaviour)."""

    def __init__(
        self,
        role: str,
        goal: str = "",
        backstory: str = "",
        *,
        tools: Sequence[Tool | Callable[..., Any]] = (),
        llm: Model | str | None = None,
        max_iterations: int = 8,
        max_tokens: int | None = None,
        on_max_iterations: Literal["error", "answer"] = "error",
        verbose: bool = False,
    ) -> None:
        if not isinstance(role, str) or not role.strip():
            raise DefinitionError("an agent needs a role, e.g. Agent(role='Researcher', ...)")
        if max_iterations < 1:
            raise DefinitionError(f"agent {role!r}: max_iterations must be >= 1")
        self.role = role
        self.goal = goal
        self.backstory = backstory
        self.tools = [_as_tool(t) for t in tools]
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names):
            raise DefinitionError(f"agent {role!r}: two tools share a name in {names}")
        self._llm = llm
        self._model: Model | None = llm if isinstance(llm, Model) else None
        self.max_iterations = max_iterations
        self.max_tokens = max_tokens
        if on_max_iterations not in ("error", "answer"):
            raise DefinitionError(
                f"agent {role!r}: on_max_iterations is 'error' or 'answer', not "
                f"{on_max_iterations!r}"
            )
        self.on_max_iterations = on_max_iterations
        self.verbose = verbose

    @property
    def model(self) -> Model:
        """The agent's model (made on first use, so defining agents needs no key)."""
        if self._model is None:
            self._model = Model(self._llm if isinstance(self._llm, str) else None)
        return self._model

    def __repr__(self) -> str:
        return f"Agent({self.role!r})"

    def system_prompt(self) -> str:
        parts = [f"You are {self.role}."]
        if self.backstory:
            parts.append(" ".join(self.backstory.split()))
        if self.goal:
            parts.append(f"Your goal: {self.goal}")
        return " ".join(parts)

    async def run(
        self,
        task: str,
        *,
        expected_output: str = "",
        context: str = "",
        output_type: Any = None,
    ) -> AgentResult:
        """Work ``task`` to a final answer, calling tools as the model asks."""
        prompt = task_prompt(task, expected_output, context)
        messages = [Message.system(self._instructions()), Message.user(prompt)]
        native = self.model.provider.native_tools or not self.tools
        result = AgentResult(output=None, text="", iterations=0)
        for turn in range(1, self.max_iterations + 1):
            result.iterations = turn
            if turn == self.max_iterations and self.on_max_iterations == "answer" and self.tools:
                messages.append(Message.user("Give your final answer now, without tools."))
                response = await self.model.complete(  # tools stay listed: Anthropic
                    messages,  # refuses tool_use blocks in a request without tools
                    tools=self.tools if native else (),
                    tool_choice="none" if native else None,
                    json_schema=None if native else _FINAL_ONLY,
                    max_tokens=self.max_tokens,
                )
                result.usage = result.usage + response.usage
                result.text = response.text if native else self._final(response)
                break
            if native:
                response = await self.model.complete(
                    messages,
                    tools=self.tools,
                    max_tokens=self.max_tokens,
                )
            else:
                response = await self.model.complete(
                    messages, json_schema=self._protocol(), max_tokens=self.max_tokens
                )
            result.usage = result.usage + response.usage
            calls = response.tool_calls if native else self._protocol_call(response, messages)
            if calls is None:  # a JSON-protocol answer that was not valid: try again
                continue
            if not calls:
                result.text = response.text if native else self._final(response)
                break
            messages.append(Message.assistant(response.text, calls if native else None))
            for call in calls:
                result.tool_calls.append(call.name)
                output = await self._call_tool(call)
                if native:
                    messages.append(Message.tool(call, output))
                else:
                    messages.append(Message.user(section(f"Result of {call.name}", output)))
        else:
            raise MaxIterationsError(
                f"agent {self.role!r} used all {self.max_iterations} iterations without a "
                "final answer; raise max_iterations, give it fewer tools, or a clearer task",
                agent=self.role,
            )
        result.output = result.text
        if output_type is not None:
            result.output = await self.model.structured(
                [
                    *messages,
                    Message.assistant(result.text),
                    Message.user("Now give that final answer as JSON fitting the schema."),
                ],
                output_type,
                max_tokens=self.max_tokens,
            )
        return result

    def _instructions(self) -> str:
        text = self.system_prompt()
        if self.tools and not self.model.provider.native_tools:
            listed = "\n".join(
                f"- {t.name}: {t.description} Arguments: {json.dumps(t.parameters)}"
                for t in self.tools
            )
            text += (
                "\n\nYou can use these tools:\n"
                f"{listed}\n"
                'Answer with one JSON object: {"tool": "<name>", "arguments": {...}} to use '
                'a tool, or {"final_answer": "<your answer>"} when you are done.'
            )
        return text

    def _protocol(self) -> dict[str, Any]:
        choices: list[dict[str, Any]] = [
            {
                "type": "object",
                "properties": {"tool": {"const": t.name}, "arguments": t.parameters},
                "required": ["tool", "arguments"],
            }
            for t in self.tools
        ]
        choices.append(_FINAL_ONLY)
        return {"anyOf": choices}

    def _protocol_call(self, response: Response, messages: list[Message]) -> list[ToolCall] | None:
        """The tool call a JSON-protocol answer asks for ([] for a final answer; None
        when the answer is not valid, after telling the model)."""
        try:
            data = json.loads(json_text(response.text))
        except ValueError:
            data = None
        if isinstance(data, dict) and "final_answer" in data:
            return []
        if isinstance(data, dict) and isinstance(data.get("tool"), str):
            arguments = data.get("arguments")
            return [
                ToolCall(
                    id=f"call-{len(messages)}",
                    name=data["tool"],
                    arguments=arguments if isinstance(arguments, dict) else {},
                )
            ]
        messages.append(Message.assistant(response.text))
        messages.append(
            Message.user(
                'That was not one JSON object of the form {"tool": ..., "arguments": ...} or '
                '{"final_answer": ...}. Answer again.'
            )
        )
        return None

    def _final(self, response: Response) -> str:
        try:
            data = json.loads(json_text(response.text))
        except ValueError:
            return response.text
        answer = data.get("final_answer", "") if isinstance(data, dict) else response.text
        return answer if isinstance(answer, str) else json.dumps(answer)

    async def _call_tool(self, call: ToolCall) -> str:
        """The tool's result as text for the model; errors become the result too."""
        found = next((t for t in self.tools if t.name == call.name), None)
        if found is None:
            known = ", ".join(t.name for t in self.tools) or "none"
            message = f"there is no tool {call.name!r}; the tools are: {known}"
            await _record_unknown(call, message)
            return f"Error: {message}"
        try:
            output = await found.call(call.arguments)
        except ToolError as exc:
            return f"Error: {exc}"
        return output if isinstance(output, str) else json.dumps(output, default=repr)


async def _record_unknown(call: ToolCall, message: str) -> None:
    ctx = current_step.get()
    if isinstance(ctx, StepContext):
        fingerprint = tool_fingerprint(call.name, call.arguments)
        index, _ = ctx.next_call("tool", fingerprint)
        await ctx.record(
            ToolCalled,
            index=index,
            tool=call.name,
            arguments=call.arguments,
            error=message,
            fingerprint=fingerprint,
        )


def check_agent(agent: object, where: str) -> Agent:
    if not isinstance(agent, Agent):
        raise AgentError(f"{where}: expected an Agent, got {agent!r}")
    return agent
