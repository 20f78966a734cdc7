"""plait's messages in the OpenAI chat-completions format, and its answers back.

Shared by :class:`OpenAIProvider` and :class:`LiteLLMProvider` (LiteLLM speaks the same
format and returns objects of the same shape). Answers are read by attribute, so both
the ``openai`` SDK's models and LiteLLM's ``ModelResponse`` work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from plait.llm._messages import Message, Request, Response, ToolCall, ToolSpec, Usage
from plait.llm._sdk_errors import error_detail

JSON_SCHEMA = "json_schema"
STREAM_OPTIONS = "stream_options"
RAW_ARGUMENTS = "_raw"
"""Key under which tool-call arguments that are not a JSON object are kept, as text."""


def parse_arguments(text: str | None) -> dict[str, Any]:
    """A tool call's arguments: the JSON object, or ``{"_raw": text}`` when it is not one
    (so the agent layer can tell the model what was wrong)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {RAW_ARGUMENTS: text}
    if not isinstance(value, dict):
        return {RAW_ARGUMENTS: text}
    return value


def dump_arguments(arguments: dict[str, Any]) -> str:
    """The JSON text of a tool call's arguments (raw text as it came, if it was raw)."""
    raw = arguments.get(RAW_ARGUMENTS)
    if len(arguments) == 1 and isinstance(raw, str):
        return raw
    return json.dumps(arguments)


def to_messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": message.content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {
                                "name": call.name,
                                "arguments": dump_arguments(call.arguments),
                            },
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        elif message.role == "tool" and message.tool_call_id:
            out.append(
                {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
            )
        elif message.role == "tool":
            # A result without a call id cannot be paired: pass it on as plain text.
            label = f"Result of tool {message.name}" if message.name else "Tool result"
            out.append({"role": "user", "content": f"{label}:\n{message.content}"})
        else:
            out.append({"role": message.role, "content": message.content})
    return out


def to_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def to_tool_choice(choice: str | None) -> str | dict[str, Any] | None:
    if choice is None or choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def json_schema_format(schema: dict[str, Any]) -> dict[str, Any]:
    """``response_format`` for structured output (OpenAI's ``json_schema`` type)."""
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def json_object_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The older ``json_object`` form, with the schema alongside: what llama-cpp-python's
    server and several other OpenAI-compatible servers take instead of ``json_schema``."""
    return {"type": "json_object", "schema": schema}


def to_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(
        input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        output_tokens=getattr(usage, "completion_tokens", 0) or 0,
    )


def to_response(completion: Any, *, provider: str, model: str) -> Response:
    """A :class:`Response` from a chat completion object (OpenAI's or LiteLLM's)."""
    choices = getattr(completion, "choices", None) or []
    if not choices:
        return Response(provider=provider, model=model, usage=to_usage(completion.usage))
    choice = choices[0]
    message = choice.message
    calls = [
        ToolCall(
            id=call.id or f"call_{index}",
            name=call.function.name,
            arguments=parse_arguments(call.function.arguments),
        )
        for index, call in enumerate(getattr(message, "tool_calls", None) or [])
    ]
    return Response(
        text=message.content or "",
        tool_calls=calls,
        usage=to_usage(getattr(completion, "usage", None)),
        provider=provider,
        model=model,
        finish_reason=choice.finish_reason or "",
    )


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ChunkAccumulator:
    """Builds the whole :class:`Response` from streamed chunks (tool calls arrive in
    pieces, keyed by index; usage comes in a last chunk without choices)."""

    provider: str
    model: str
    text: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = ""

    def add(self, chunk: Any) -> str:
        """Takes one chunk; returns its new text (may be empty)."""
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = to_usage(usage)
        choices = getattr(chunk, "choices", None) or []
        if not choices:
            return ""
        choice = choices[0]
        if choice.finish_reason:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return ""
        for piece in getattr(delta, "tool_calls", None) or []:
            index = piece.index if piece.index is not None else len(self.calls)
            partial = self.calls.setdefault(index, _PartialCall())
            if piece.id:
                partial.id = piece.id
            function = piece.function
            if function is not None:
                if function.name:
                    # OpenAI sends the name once; some servers repeat it in every chunk.
                    if not partial.name or function.name.startswith(partial.name):
                        partial.name = function.name
                    else:
                        partial.name += function.name
                if function.arguments:
                    partial.arguments.append(function.arguments)
        content: str = getattr(delta, "content", None) or ""
        if content:
            self.text.append(content)
        return content

    def response(self) -> Response:
        calls = [
            ToolCall(
                id=partial.id or f"call_{index}",
                name=partial.name,
                arguments=parse_arguments("".join(partial.arguments)),
            )
            for index, partial in sorted(self.calls.items())
        ]
        return Response(
            text="".join(self.text),
            tool_calls=calls,
            usage=self.usage,
            provider=self.provider,
            model=self.model,
            finish_reason=self.finish_reason,
        )


def chat_arguments(
    model: str, request: Request, *, stream: bool, refused: set[tuple[str, str]]
) -> dict[str, Any]:
    """Keyword arguments for ``chat.completions.create``; ``refused``: (model, feature)
    pairs the server said it does not take (see :func:`refused_feature`)."""
    kwargs: dict[str, Any] = {"model": model, "messages": to_messages(request.messages)}
    if request.tools:
        kwargs["tools"] = to_tools(request.tools)
    choice = to_tool_choice(request.tool_choice)
    if choice is not None and request.tools:
        kwargs["tool_choice"] = choice
    if request.json_schema is not None:
        if (model, JSON_SCHEMA) in refused:
            kwargs["response_format"] = json_object_format(request.json_schema)
        else:
            kwargs["response_format"] = json_schema_format(request.json_schema)
    if request.max_tokens is not None:
        kwargs["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.stop:
        kwargs["stop"] = request.stop
    if stream:
        kwargs["stream"] = True
        if (model, STREAM_OPTIONS) not in refused:
            kwargs["stream_options"] = {"include_usage": True}
    return kwargs


def refused_feature(kwargs: dict[str, Any], exc: Any) -> str | None:
    """The optional feature the server's error complains about, if we sent it."""
    if exc.status_code not in (400, 422, 500):
        return None
    detail = error_detail(exc).lower()
    response_format = kwargs.get("response_format")
    if (
        isinstance(response_format, dict)
        and response_format.get("type") == JSON_SCHEMA
        and ("response_format" in detail or JSON_SCHEMA in detail)
    ):
        return JSON_SCHEMA
    if STREAM_OPTIONS in kwargs and STREAM_OPTIONS in detail:
        return STREAM_OPTIONS
    return None
