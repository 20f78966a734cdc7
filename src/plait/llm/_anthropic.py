"""``anthropic:<model>``: Claude through the official ``anthropic`` SDK (Messages API).

The translation: system messages go to ``system=``; tool calls and results become
``tool_use`` / ``tool_result`` blocks (results of one turn merged into one user message,
as the API wants turns to alternate); structured output forces a tool named ``output``
whose input schema is the requested one, and its input is the answer's JSON text.
``max_tokens`` is required by the API: 1024 unless the request says.

The key and base URL come from the arguments or ``ANTHROPIC_API_KEY`` and
``ANTHROPIC_BASE_URL``. The SDK's own retries are off: ``Model`` retries.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from plait.core import require_extra
from plait.llm._loop_clients import LoopClients
from plait.llm._messages import Message, Request, Response, ToolCall, Usage
from plait.llm._provider import ProviderFailure
from plait.llm._sdk_errors import sdk_failure

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 1024
OUTPUT_TOOL = "output"
"""The tool forced for structured output; its input is the answer."""

_PLACEHOLDER_KEY = "not-needed"


class AnthropicProvider:
    """Messages through ``anthropic.AsyncAnthropic``."""

    name = "anthropic"
    native_tools = True

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        self._sdk: Any = require_extra(
            "anthropic", "anthropic", feature="the 'anthropic:' model provider"
        )
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or None
        key = api_key or os.environ.get("ANTHROPIC_API_KEY") or None
        if key is None and self.base_url is not None:
            key = _PLACEHOLDER_KEY
        self._api_key = key
        self._timeout = timeout
        self._clients: LoopClients[AsyncAnthropic] = LoopClients()

    @property
    def where(self) -> str:
        return self.base_url or DEFAULT_BASE_URL

    async def complete(self, model: str, request: Request) -> Response:
        try:
            client = self._get_client(model)
            message = await client.messages.create(**_arguments(model, request))
        except Exception as exc:
            failure = self._failure(model, exc)
            if failure is exc:
                raise
            raise failure from exc
        return self._response(message, model, request)

    async def stream(self, model: str, request: Request) -> AsyncIterator[str | Response]:
        try:
            client = self._get_client(model)
            async with client.messages.stream(**_arguments(model, request)) as events:
                async for text in events.text_stream:
                    if text:
                        yield text
                message = await events.get_final_message()
        except Exception as exc:
            failure = self._failure(model, exc)
            if failure is exc:
                raise
            raise failure from exc
        yield self._response(message, model, request)

    async def close(self) -> None:
        """Close this event loop's client."""
        await self._clients.close()

    # ------------------------------------------------------------------ internals

    def _get_client(self, model: str) -> AsyncAnthropic:
        return self._clients.get(lambda: self._new_client(model))

    def _new_client(self, model: str) -> AsyncAnthropic:
        if self._api_key is None:
            raise ProviderFailure(
                f"no API key for anthropic model {model!r}: set ANTHROPIC_API_KEY "
                "(or ANTHROPIC_BASE_URL for a server that needs none)"
            )
        client: AsyncAnthropic = self._sdk.AsyncAnthropic(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self._timeout,
            max_retries=0,
        )
        return client

    def _response(self, message: Any, model: str, request: Request) -> Response:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                arguments = dict(block.input) if isinstance(block.input, dict) else {}
                if request.json_schema is not None and block.name == OUTPUT_TOOL:
                    texts = [json.dumps(block.input)]  # the structured answer is the text
                else:
                    calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
        usage = message.usage
        input_tokens = (
            (usage.input_tokens or 0)
            + (getattr(usage, "cache_creation_input_tokens", None) or 0)
            + (getattr(usage, "cache_read_input_tokens", None) or 0)
        )
        return Response(
            text="".join(texts),
            tool_calls=calls,
            usage=Usage(input_tokens=input_tokens, output_tokens=usage.output_tokens or 0),
            provider=self.name,
            model=model,
            finish_reason=message.stop_reason or "",
        )

    def _failure(self, model: str, exc: Exception) -> Exception:
        """``exc`` as a :class:`ProviderFailure`, or ``exc`` itself if it is not the SDK's."""
        failure = sdk_failure(
            self._sdk,
            exc,
            provider=self.name,
            model=model,
            base_url=self.where,
            key_env="ANTHROPIC_API_KEY",
        )
        return exc if failure is None else failure


def _arguments(model: str, request: Request) -> dict[str, Any]:
    system = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content)
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": to_messages(request.messages),
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if system:
        kwargs["system"] = system
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters}
        for t in request.tools
    ]
    choice = _tool_choice(request.tool_choice)
    if request.json_schema is not None:
        tools.append(
            {
                "name": OUTPUT_TOOL,
                "description": "Give the answer as this tool's input.",
                "input_schema": request.json_schema,
            }
        )
        choice = {"type": "tool", "name": OUTPUT_TOOL}
    if tools:
        kwargs["tools"] = tools
        if choice is not None:
            kwargs["tool_choice"] = choice
    if request.temperature is not None:
        # Not a keyword of newer SDKs' create() any more; the API still takes it.
        kwargs["extra_body"] = {"temperature": request.temperature}
    if request.stop:
        kwargs["stop_sequences"] = request.stop
    return kwargs


def _tool_choice(choice: str | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def to_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The conversation as Anthropic turns (system messages left out: they go to
    ``system=``); consecutive messages of one role are merged into one turn."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        if message.tool_call_id:
            return [
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id,
                    "content": message.content,
                }
            ]
        label = f"Result of tool {message.name}" if message.name else "Tool result"
        return [{"type": "text", "text": f"{label}:\n{message.content}"}]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks
