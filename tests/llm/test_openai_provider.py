"""OpenAIProvider with the real ``openai`` client: against llama.cpp's OpenAI-compatible
server with SmolLM2 (structure only, never wording), and against a small stub server for
what a real model cannot be made to do on demand (429, 500, 401, 404, odd answers)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse
from fastapi.responses import Response as HttpResponse

from plait.core import MissingExtraError
from plait.llm._messages import Message, Request, Response, ToolCall, ToolSpec, Usage
from plait.llm._openai import OpenAIProvider
from plait.llm._provider import Provider, ProviderFailure
from tests.llm._servers import free_port, serve

MODEL = "smollm2"
WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city.",
    parameters={
        "type": "object",
        "properties": {"days": {"type": "integer"}},
        "required": ["days"],
    },
)
PERSON = {
    "type": "object",
    "properties": {"age": {"type": "integer"}},
    "required": ["age"],
}


def ask(text: str, **options: Any) -> Request:
    return Request(messages=[Message.user(text)], max_tokens=16, temperature=0.0, **options)


def complete(provider: OpenAIProvider, model: str, request: Request) -> Response:
    async def go() -> Response:
        try:
            return await provider.complete(model, request)
        finally:
            await provider.close()

    return asyncio.run(go())


def collect(provider: OpenAIProvider, model: str, request: Request) -> list[str | Response]:
    async def go() -> list[str | Response]:
        try:
            return [item async for item in provider.stream(model, request)]
        finally:
            await provider.close()

    return asyncio.run(go())


def failure_of(provider: OpenAIProvider, model: str, request: Request) -> ProviderFailure:
    with pytest.raises(ProviderFailure) as caught:
        complete(provider, model, request)
    return caught.value


# ---------------------------------------------------------------- the real server


def test_is_a_provider() -> None:
    provider = OpenAIProvider(base_url="http://127.0.0.1:1/v1")
    assert isinstance(provider, Provider)
    assert (provider.name, provider.native_tools) == ("openai", True)


def test_chat_completion(llama_server: str) -> None:
    response = complete(OpenAIProvider(base_url=llama_server), MODEL, ask("Say hello."))
    assert isinstance(response.text, str) and response.text
    assert (response.provider, response.model) == ("openai", MODEL)
    assert response.tool_calls == []
    assert response.usage.input_tokens > 0
    assert 0 < response.usage.output_tokens <= 16
    assert response.finish_reason in ("stop", "length")


def test_streaming_gives_pieces_then_the_response(llama_server: str) -> None:
    items = collect(OpenAIProvider(base_url=llama_server), MODEL, ask("Count to five."))
    *pieces, last = items
    assert pieces and all(isinstance(piece, str) and piece for piece in pieces)
    assert isinstance(last, Response)
    assert last.text == "".join(str(piece) for piece in pieces)
    assert isinstance(last.usage, Usage)  # llama-cpp-python sends no usage when streaming
    assert last.finish_reason in ("stop", "length")


def test_forced_tool_call(llama_server: str) -> None:
    request = ask("What is the weather in Paris?", tools=[WEATHER], tool_choice="get_weather")
    request.max_tokens = 32
    response = complete(OpenAIProvider(base_url=llama_server), MODEL, request)
    assert [call.name for call in response.tool_calls] == ["get_weather"]
    call = response.tool_calls[0]
    assert call.id and isinstance(call.arguments, dict)
    assert isinstance(call.arguments.get("days"), int)


def test_json_schema_output_fits_the_schema(llama_server: str) -> None:
    provider = OpenAIProvider(base_url=llama_server)
    request = ask("Describe a person as JSON.", json_schema=PERSON)
    request.max_tokens = 32
    for _ in range(2):  # the second call goes straight to the form the server takes
        response = complete(provider, MODEL, request)
        jsonschema.validate(json.loads(response.text), PERSON)


def test_unreachable_server_is_retryable_and_fast() -> None:
    provider = OpenAIProvider(base_url=f"http://127.0.0.1:{free_port()}/v1")
    started = time.perf_counter()
    failure = failure_of(provider, MODEL, ask("hi"))
    assert time.perf_counter() - started < 5
    assert failure.retryable
    assert "cannot reach openai" in str(failure)


# ---------------------------------------------------------------- a stub server

seen: list[dict[str, Any]] = []


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [choice],
    }


def _completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "error", "code": None, "param": None}}
    return JSONResponse(body, status_code=status, headers=headers)


stub = FastAPI()


@stub.post("/v1/chat/completions")
async def chat(http: HttpRequest) -> Any:
    body = await http.json()
    seen.append(body)
    model = body["model"]
    if model == "limited":
        return _error(429, "slow down", {"Retry-After": "3"})
    if model == "limited-ms":
        return _error(429, "slow down", {"retry-after-ms": "250"})
    if model == "broken":
        return _error(500, "it broke")
    if model == "locked":
        return _error(401, "bad key")
    if model == "missing":
        return _error(404, "The model `missing` does not exist")
    if model == "bad-arguments":
        call = {"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
        return _completion(
            {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        )
    if body.get("stream"):
        events = [
            _chunk({"role": "assistant", "content": ""}),
            _chunk({"content": "Hel"}),
            _chunk({"content": "lo"}),
            _chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a"'},
                        }
                    ]
                }
            ),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}, "tool_calls"),
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            },
        ]
        text = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
        return HttpResponse(text, media_type="text/event-stream")
    return _completion({"role": "assistant", "content": "ok"}, "stop")


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with serve(stub) as url:
        yield f"{url}/v1"


def test_rate_limit_is_retryable_with_retry_after(stub_url: str) -> None:
    failure = failure_of(OpenAIProvider(base_url=stub_url), "limited", ask("hi"))
    assert failure.retryable and failure.retry_after == 3.0
    assert "rate limited" in str(failure) and "slow down" in str(failure)
    failure = failure_of(OpenAIProvider(base_url=stub_url), "limited-ms", ask("hi"))
    assert failure.retryable and failure.retry_after == 0.25


def test_server_error_is_retryable(stub_url: str) -> None:
    failure = failure_of(OpenAIProvider(base_url=stub_url), "broken", ask("hi"))
    assert failure.retryable and failure.retry_after is None
    assert "HTTP 500" in str(failure) and "it broke" in str(failure)


def test_bad_key_is_not_retryable_and_names_the_variable(stub_url: str) -> None:
    failure = failure_of(OpenAIProvider(base_url=stub_url, api_key="k"), "locked", ask("hi"))
    assert not failure.retryable
    assert "OPENAI_API_KEY" in str(failure)


def test_unknown_model_names_model_and_base_url(stub_url: str) -> None:
    failure = failure_of(OpenAIProvider(base_url=stub_url), "missing", ask("hi"))
    assert not failure.retryable
    assert "'missing'" in str(failure) and stub_url in str(failure)


def test_tool_arguments_that_are_not_json_are_kept_raw(stub_url: str) -> None:
    response = complete(OpenAIProvider(base_url=stub_url), "bad-arguments", ask("hi"))
    assert response.tool_calls == [ToolCall(id="c9", name="f", arguments={"_raw": "{oops"})]


def test_stream_collects_tool_calls_and_usage(stub_url: str) -> None:
    items = collect(OpenAIProvider(base_url=stub_url), "streamer", ask("hi"))
    assert items[:2] == ["Hel", "lo"]
    last = items[-1]
    assert isinstance(last, Response) and len(items) == 3
    assert last.text == "Hello"
    assert last.tool_calls == [ToolCall(id="t1", name="f", arguments={"a": 1})]
    assert last.usage == Usage(input_tokens=5, output_tokens=2)
    assert seen[-1]["stream_options"] == {"include_usage": True}


def test_request_translation(stub_url: str) -> None:
    call = ToolCall(id="t1", name="get_weather", arguments={"days": 2})
    request = Request(
        messages=[
            Message.system("Be brief."),
            Message.user("Weather?"),
            Message.assistant(tool_calls=[call]),
            Message.tool(call, "sunny"),
        ],
        tools=[WEATHER],
        tool_choice="get_weather",
        json_schema=PERSON,
        max_tokens=5,
        temperature=0.5,
        stop=["\n"],
    )
    response = complete(OpenAIProvider(base_url=stub_url), "echo", request)
    assert response.text == "ok" and response.usage == Usage(input_tokens=7, output_tokens=3)
    body = seen[-1]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"days": 2}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": WEATHER.description,
                "parameters": WEATHER.parameters,
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": PERSON},
    }
    assert (body["max_tokens"], body["temperature"], body["stop"]) == (5, 0.5, ["\n"])


# ---------------------------------------------------------------- configuration


def test_no_key_and_no_base_url_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    failure = failure_of(OpenAIProvider(), "gpt-4o-mini", ask("hi"))
    assert not failure.retryable
    assert "OPENAI_API_KEY" in str(failure) and "OPENAI_BASE_URL" in str(failure)


def test_base_url_and_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, stub_url: str
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", stub_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    provider = OpenAIProvider()
    assert provider.base_url == stub_url
    assert complete(provider, "echo", ask("hi")).text == "ok"


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(MissingExtraError, match=r"plait\[openai\]"):
        OpenAIProvider(base_url="http://127.0.0.1:1/v1")
