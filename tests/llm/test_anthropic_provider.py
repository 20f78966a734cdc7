"""AnthropicProvider with the real ``anthropic`` SDK against a small local server that
speaks the Messages API: text, tool_use, structured output, streaming, errors."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse
from fastapi.responses import Response as HttpResponse

from plait.core import MissingExtraError
from plait.llm._anthropic import AnthropicProvider
from plait.llm._messages import Message, Request, Response, ToolCall, ToolSpec, Usage
from plait.llm._provider import Provider, ProviderFailure
from tests.llm._servers import free_port, serve

WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
PERSON = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}

seen: list[dict[str, Any]] = []
app = FastAPI()


def _message(content: list[dict[str, Any]], stop_reason: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 4},
    }


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Any:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _sse(events: list[dict[str, Any]]) -> HttpResponse:
    text = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return HttpResponse(text, media_type="text/event-stream")


def _stream() -> HttpResponse:
    start = _message([], "")
    start.update(stop_reason=None, usage={"input_tokens": 9, "output_tokens": 0})
    return _sse(
        [
            {"type": "message_start", "message": start},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hel"},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "lo"},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 2},
            },
            {"type": "message_stop"},
        ]
    )


@app.post("/v1/messages")
async def messages(http: HttpRequest) -> Any:
    body = await http.json()
    seen.append(body)
    model = body["model"]
    if model == "limited":
        return _error(429, "rate_limit_error", "slow down", {"retry-after": "7"})
    if model == "overloaded":
        return _error(529, "overloaded_error", "Overloaded")
    if model == "locked":
        return _error(401, "authentication_error", "invalid x-api-key")
    if model == "missing":
        return _error(404, "not_found_error", "model: missing")
    if body.get("stream"):
        return _stream()
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        name = choice["name"]
        arguments = {"age": 42} if name == "output" else {"city": "Paris"}
        tool_use = {"type": "tool_use", "id": "toolu_1", "name": name, "input": arguments}
        return _message([tool_use], "tool_use")
    return _message([{"type": "text", "text": "Hello there."}], "end_turn")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(app) as base_url:
        yield base_url


def run(provider: AnthropicProvider, model: str, request: Request) -> Response:
    async def go() -> Response:
        try:
            return await provider.complete(model, request)
        finally:
            await provider.close()

    return asyncio.run(go())


def failure_of(provider: AnthropicProvider, model: str) -> ProviderFailure:
    with pytest.raises(ProviderFailure) as caught:
        run(provider, model, Request(messages=[Message.user("hi")]))
    return caught.value


def test_is_a_provider(url: str) -> None:
    provider = AnthropicProvider(base_url=url)
    assert isinstance(provider, Provider)
    assert (provider.name, provider.native_tools) == ("anthropic", True)


def test_text_with_system_prompt_and_default_max_tokens(url: str) -> None:
    request = Request(messages=[Message.system("Be brief."), Message.user("Hi")])
    response = run(AnthropicProvider(base_url=url, api_key="k"), "claude-x", request)
    assert response.text == "Hello there."
    assert response.usage == Usage(input_tokens=12, output_tokens=4)
    assert (response.provider, response.model, response.finish_reason) == (
        "anthropic",
        "claude-x",
        "end_turn",
    )
    body = seen[-1]
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert body["max_tokens"] == 1024
    assert "tools" not in body


def test_tool_calls_and_results_become_blocks(url: str) -> None:
    first = ToolCall(id="toolu_a", name="get_weather", arguments={"city": "Oslo"})
    second = ToolCall(id="toolu_b", name="get_weather", arguments={"city": "Rome"})
    request = Request(
        messages=[
            Message.user("Weather in Oslo and Rome?"),
            Message.assistant("Looking.", tool_calls=[first, second]),
            Message.tool(first, "cold"),
            Message.tool(second, "warm"),
        ],
        tools=[WEATHER],
        tool_choice="get_weather",
        max_tokens=20,
        temperature=0.0,
        stop=["END"],
    )
    response = run(AnthropicProvider(base_url=url), "claude-x", request)
    assert response.tool_calls == [
        ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Paris"})
    ]
    assert response.text == "" and response.finish_reason == "tool_use"
    body = seen[-1]
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {
                    "type": "tool_use",
                    "id": "toolu_a",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_b",
                    "name": "get_weather",
                    "input": {"city": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "cold"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "warm"},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": WEATHER.description,
            "input_schema": WEATHER.parameters,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert (body["max_tokens"], body["temperature"], body["stop_sequences"]) == (20, 0.0, ["END"])


def test_json_schema_forces_the_output_tool(url: str) -> None:
    request = Request(messages=[Message.user("A person?")], json_schema=PERSON)
    response = run(AnthropicProvider(base_url=url), "claude-x", request)
    assert json.loads(response.text) == {"age": 42}
    assert response.tool_calls == []
    body = seen[-1]
    assert body["tool_choice"] == {"type": "tool", "name": "output"}
    assert [tool["name"] for tool in body["tools"]] == ["output"]
    assert body["tools"][0]["input_schema"] == PERSON


def test_streaming_gives_pieces_then_the_response(url: str) -> None:
    async def go() -> list[str | Response]:
        provider = AnthropicProvider(base_url=url)
        try:
            request = Request(messages=[Message.user("Hi")])
            return [item async for item in provider.stream("claude-x", request)]
        finally:
            await provider.close()

    items = asyncio.run(go())
    assert items[:2] == ["Hel", "lo"]
    last = items[2]
    assert isinstance(last, Response) and len(items) == 3
    assert last.text == "Hello" and last.finish_reason == "end_turn"
    assert last.usage == Usage(input_tokens=9, output_tokens=2)


def test_rate_limit_is_retryable_with_retry_after(url: str) -> None:
    failure = failure_of(AnthropicProvider(base_url=url), "limited")
    assert failure.retryable and failure.retry_after == 7.0
    assert "slow down" in str(failure)


def test_overloaded_is_retryable(url: str) -> None:
    failure = failure_of(AnthropicProvider(base_url=url), "overloaded")
    assert failure.retryable and "529" in str(failure)


def test_bad_key_is_not_retryable_and_names_the_variable(url: str) -> None:
    failure = failure_of(AnthropicProvider(base_url=url), "locked")
    assert not failure.retryable and "ANTHROPIC_API_KEY" in str(failure)


def test_unknown_model_is_not_retryable(url: str) -> None:
    failure = failure_of(AnthropicProvider(base_url=url), "missing")
    assert not failure.retryable and "'missing'" in str(failure) and url in str(failure)


def test_unreachable_server_is_retryable_and_fast() -> None:
    provider = AnthropicProvider(base_url=f"http://127.0.0.1:{free_port()}")
    started = time.perf_counter()
    failure = failure_of(provider, "claude-x")
    assert time.perf_counter() - started < 5
    assert failure.retryable and "cannot reach anthropic" in str(failure)


def test_no_key_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    failure = failure_of(AnthropicProvider(), "claude-x")
    assert not failure.retryable and "ANTHROPIC_API_KEY" in str(failure)


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(MissingExtraError, match=r"plait\[anthropic\]"):
        AnthropicProvider()
