"""``Agent``: a role with a goal, a model and tools, working a task in a tool-calling loop.

With a model that calls tools itself (OpenAI, Anthropic...) the loop uses native tool
calls. With one that does not (the local model), it uses a JSON protocol: each answer is
one JSON object, either ``{"tool": name, "arguments": {...}}`` or ``{"final_answer":
"..."}``; with llama.cpp a grammar makes every answer such an object. A tool's error goes
back to the model as the tool's result, so it can correct itself; so do unknown tools and
wrong arguments. Every model and tool call is recorded in the run (see ``plait.llm``).

A reply that ``max_tokens`` cut short is asked for once more with twice the budget. What
an agent returns is never protocol JSON nor text cut mid-sentence: a ``final_answer`` is
read out of half-JSON, a reply still cut keeps its whole sentences, and one with nothing
to keep fails with :class:`AgentError`. Nor does it go round in a loop: an answer that
repeats a sentence word for word keeps what came before the first repeat, with a warning
on the ``plait.agents`` logger (a cut reply that loops is not asked for again: more
tokens would only loop longer). See :mod:`plait.agents._replies`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from plait.agents._replies import (
    cut_repeats,
    final_text,
    is_cut,
    protocol_data,
    salvage_final,
    whole_sentences,
)
from plait.core import AgentError, DefinitionError, MaxIterationsError, ToolError
from plait.define import current_step
from plait.llm import (
    Message,
    Model,
    Response,
    Tool,
    ToolCall,
    Usage,
    tool_fingerprint,
)
from plait.runtime import StepContext, ToolCalled

log = logging.getLogger("plait.agents")


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
_REASK_BUDGET = 1024
"""``max_tokens`` for asking again after a cut reply when neither the agent, its model nor
the reply says how many tokens it had."""


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
    asked for a final answer with no more tools (CrewAI's behaviour).
    ``tool_choice="required"`` makes it call a tool before it may answer (then it chooses
    freely, as ``reset_tool_choice`` does in OpenAI's Agents SDK): for a small model that
    would otherwise answer at once without checking its work."""

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
        tool_choice: Literal["auto", "required"] = "auto",
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
        if tool_choice not in ("auto", "required"):
            raise DefinitionError(
                f"agent {role!r}: tool_choice is 'auto' or 'required', not {tool_choice!r}"
            )
        if tool_choice == "required" and not self.tools:
            raise DefinitionError(f"agent {role!r}: tool_choice='required' needs tools")
        self.tool_choice = tool_choice
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
            final = (
                turn == self.max_iterations
                and self.on_max_iterations == "answer"
                and bool(self.tools)
            )
            if final:
                messages.append(Message.user("Give your final answer now, without tools."))
            response = await self._reply(messages, result, native=native, final=final)
            calls: list[ToolCall] | None
            if final:
                calls = []
            elif native:
                calls = response.tool_calls
            else:
                calls = self._protocol_call(response, messages)
            if calls is None:  # a JSON-protocol answer that was not valid: try again
                continue
            if not calls:
                result.text = self._final(response, native)
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

    async def _reply(
        self, messages: list[Message], result: AgentResult, *, native: bool, final: bool
    ) -> Response:
        """One model turn (``final``: for the final answer, with no more tools). A reply
        that ``max_tokens`` cut short is asked for once more with twice the budget."""
        must_call = self.tool_choice == "required" and not result.tool_calls and not final
        options: dict[str, Any]
        if native:  # tools stay listed on the final turn: Anthropic refuses tool_use
            choice = "none" if final else "required" if must_call else None  # blocks in a
            options = {"tools": self.tools, "tool_choice": choice}  # request without tools
        else:
            options = {"json_schema": _FINAL_ONLY if final else self._protocol(must_call)}
        response = await self.model.complete(messages, max_tokens=self.max_tokens, **options)
        result.usage = result.usage + response.usage
        if is_cut(response) and not response.tool_calls and not _loops(response, native):
            had = self.max_tokens or self.model.max_tokens or response.usage.output_tokens
            budget = 2 * had if had else _REASK_BUDGET
            response = await self.model.complete(messages, max_tokens=budget, **options)
            result.usage = result.usage + response.usage
        return response

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

    def _protocol(self, must_call: bool = False) -> dict[str, Any]:
        """The JSON schema of a JSON-protocol answer: a call of one of the tools, or
        (unless ``must_call``) a final answer."""
        choices: list[dict[str, Any]] = [
            {
                "type": "object",
                "properties": {"tool": {"const": t.name}, "arguments": t.parameters},
                "required": ["tool", "arguments"],
            }
            for t in self.tools
        ]
        if not must_call:
            choices.append(_FINAL_ONLY)
        return {"anyOf": choices}

    def _protocol_call(self, response: Response, messages: list[Message]) -> list[ToolCall] | None:
        """The tool call a JSON-protocol answer asks for ([] for a final answer, also one
        read out of half-JSON; None when the answer is not valid, after telling the
        model)."""
        data = protocol_data(response.text)
        if data is not None and "final_answer" in data:
            return []
        if data is not None and isinstance(data.get("tool"), str):
            arguments = data.get("arguments")
            return [
                ToolCall(
                    id=f"call-{len(messages)}",
                    name=data["tool"],
                    arguments=arguments if isinstance(arguments, dict) else {},
                )
            ]
        if salvage_final(response.text) is not None:
            return []
        if is_cut(response):
            raise self._cut_error(response)
        messages.append(Message.assistant(response.text))
        messages.append(
            Message.user(
                'That was not one JSON object of the form {"tool": ..., "arguments": ...} or '
                '{"final_answer": ...}. Answer again.'
            )
        )
        return None

    def _final(self, response: Response, native: bool) -> str:
        """The final answer's text: never protocol JSON, never cut mid-sentence, never a
        loop."""
        cut = is_cut(response)
        if native:
            text = response.text
        else:
            data = protocol_data(response.text)
            if data is not None and "final_answer" in data:
                text = final_text(data["final_answer"])
            else:
                salvaged = salvage_final(response.text)
                if salvaged is None:
                    raise AgentError(
                        f"agent {self.role!r} was asked for its final answer and gave none "
                        f"(it wrote {response.text[:80]!r}); try a larger model or a clearer task",
                        agent=self.role,
                    )
                text, cut = salvaged.text, cut or not salvaged.whole
        kept = cut_repeats(text)
        if kept != text:
            log.warning(
                "agent %r repeated itself; its answer keeps the %d words before the first "
                "repeat and drops the %d after",
                self.role,
                len(kept.split()),
                len(text.split()) - len(kept.split()),
            )
            text, cut = kept, False  # it ends where a whole sentence or line ended
        if cut:
            text = whole_sentences(text)
            if not text:
                raise self._cut_error(response)
        return text

    def _cut_error(self, response: Response) -> AgentError:
        return AgentError(
            f"agent {self.role!r}: its reply was cut off by max_tokens, also when asked "
            f"again with twice the budget, and holds no whole answer to keep (it wrote "
            f"{response.text[:80]!r}...); raise Agent(max_tokens=...) or ask for less",
            agent=self.role,
        )

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


def _loops(response: Response, native: bool) -> bool:
    """Whether the reply's answer text (a ``final_answer``'s, in the JSON protocol)
    repeats itself: asking again with more tokens would only loop longer."""
    salvaged = None if native else salvage_final(response.text)
    text = response.text if native else salvaged.text if salvaged is not None else ""
    return cut_repeats(text) != text


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
