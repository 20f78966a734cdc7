"""What the ``local:`` provider sends to llama.cpp: chat messages and the JSON schema that
constrains the answer (structured output, or a tool call when ``tool_choice`` asks for one).

Pure functions of a :class:`Request`, with no llama.cpp in sight, so they are cheap to test.
The local model has no native tools, so tool calls and tool results in the history are
written as text (a result between fences no text inside can close), and a forced tool
call is an answer constrained to the tool's arguments.

llama.cpp renders the messages with the model's chat template and reads the prompt with
its special tokens on, so a message holding ``<|im_end|>`` and ``<|im_start|>system``
would end its turn and open a system one. :func:`chat_messages` breaks up the text of each
special token (the model's, given as ``specials``) in a message, so it is read as plain text.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from plait.llm._messages import Message, Request, ToolSpec

_OPEN_CHOICES = ("", "auto", "none")
_JOINER = "\u2060"
"""WORD JOINER, put after the first character of a special token's text in a message."""
_BACKTICKS = re.compile(r"`+")


@dataclass(frozen=True, slots=True)
class CallPlan:
    """Messages to send and the schema the answer must fit. ``tool``: the forced tool's
    name; ``any_tool``: the model picks one of the request's tools (``required``)."""

    messages: list[Message]
    schema: dict[str, Any] | None
    tool: str | None = None
    any_tool: bool = False

    @property
    def tool_mode(self) -> bool:
        return self.tool is not None or self.any_tool

    def tool_call(self, data: Any) -> tuple[str, dict[str, Any]]:
        """The tool's name and arguments from the parsed answer."""
        if self.tool is not None and isinstance(data, dict):
            return self.tool, data
        if self.any_tool and isinstance(data, dict):
            name, arguments = data.get("name"), data.get("arguments")
            if isinstance(name, str) and isinstance(arguments, dict):
                return name, arguments
        raise ValueError(f"the answer is not a tool call: {data!r}")


def plan_call(request: Request) -> CallPlan:
    """Raises ``ValueError`` when ``tool_choice`` names no tool of the request."""
    choice = request.tool_choice
    tools = {spec.name: spec for spec in request.tools}
    if choice is None or choice in _OPEN_CHOICES:
        return CallPlan(list(request.messages), request.json_schema)
    if choice == "required":
        if not tools:
            raise ValueError("tool_choice='required' but the request has no tools")
        schema = _any_tool_schema(list(tools.values()))
        return CallPlan(_instructed(request.messages, _any_tool_text(tools)), schema, None, True)
    spec = tools.get(choice)
    if spec is None:
        known = ", ".join(sorted(tools)) or "none"
        raise ValueError(f"tool_choice {choice!r} is not one of the request's tools ({known})")
    text = (
        f"Call the tool {spec.name!r} now. Answer with only a JSON object of its arguments."
        f"\n{_describe(spec)}"
    )
    return CallPlan(_instructed(request.messages, text), _object_schema(spec.parameters), choice)


def chat_messages(messages: list[Message], specials: Collection[str] = ()) -> list[dict[str, str]]:
    """Messages as llama.cpp's chat template takes them: roles system, user, assistant;
    no text of ``specials`` (the model's special tokens) left whole in any of them."""
    out: list[dict[str, str]] = []
    for message in messages:
        if message.role == "tool":
            label = message.name or "a tool"
            content = _fenced(f"Result of {label} (call {message.tool_call_id})", message.content)
            role = "user"
        elif message.role == "assistant" and message.tool_calls:
            calls = [
                json.dumps({"name": call.name, "arguments": call.arguments})
                for call in message.tool_calls
            ]
            content = "\n".join([message.content, *calls] if message.content else calls)
            role = "assistant"
        else:
            content, role = message.content, message.role
        out.append({"role": role, "content": defused(content, specials)})
    return out


def defused(text: str, specials: Collection[str]) -> str:
    """``text`` with a word joiner inside each occurrence of a special token's text, so a
    tokenizer reading special tokens finds none in it (texts of one character, which
    cannot be split, are left alone)."""
    pattern = _specials_pattern(frozenset(specials))
    if pattern is None:
        return text
    while pattern.search(text):  # again: a split occurrence may uncover an overlapping one
        text = pattern.sub(lambda m: m[0][0] + _JOINER + m[0][1:], text)
    return text


@functools.lru_cache(maxsize=8)
def _specials_pattern(specials: frozenset[str]) -> re.Pattern[str] | None:
    texts = sorted((s for s in specials if len(s) > 1 and _JOINER not in s), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, texts))) if texts else None


def _fenced(header: str, text: str) -> str:
    """``header:`` and ``text`` between fences of backticks longer than any inside it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{header}:\n{fence}\n{text}\n{fence}"


def _instructed(messages: list[Message], text: str) -> list[Message]:
    """The messages with ``text`` added to the system message (or a new one first)."""
    if messages and messages[0].role == "system":
        first = Message.system(f"{messages[0].content}\n\n{text}".strip())
        return [first, *messages[1:]]
    return [Message.system(text), *messages]


def _describe(spec: ToolSpec) -> str:
    about = f": {spec.description}" if spec.description else ""
    return f"Tool {spec.name}{about}\nArguments (JSON schema): {json.dumps(spec.parameters)}"


def _any_tool_text(tools: dict[str, ToolSpec]) -> str:
    listed = "\n".join(_describe(spec) for spec in tools.values())
    return (
        "Call one of these tools now. Answer with only a JSON object "
        '{"name": <tool name>, "arguments": {...}}.\n' + listed
    )


def _object_schema(parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool's parameters as an object schema (a tool's arguments are always an object)."""
    schema = dict(parameters)
    schema.setdefault("type", "object")
    return schema


def _any_tool_schema(tools: list[ToolSpec]) -> dict[str, Any]:
    """``{"name": <one tool>, "arguments": <its parameters>}`` for any of the tools; each
    tool's ``$defs`` are lifted to the top so its ``#/$defs/...`` references still work."""
    defs: dict[str, Any] = {}
    options = []
    for spec in tools:
        parameters = _object_schema(spec.parameters)
        defs.update(parameters.pop("$defs", {}))
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": spec.name}, "arguments": parameters},
                "required": ["name", "arguments"],
            }
        )
    schema: dict[str, Any] = {"anyOf": options}
    if defs:
        schema["$defs"] = defs
    return schema
