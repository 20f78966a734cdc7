"""The shared base of the OpenAI-compatible providers (``openai:`` and ``litellm:``),
against a stub server that refuses ``json_schema`` and ``stream_options`` as
llama-cpp-python's server does: both providers ask again without the feature, remember
that for the model, and stream and complete the same way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse
from fastapi.responses import Response as HttpResponse

from plait.llm._litellm import LiteLLMProvider
from plait.llm._messages import Message, Request, Response
from plait.llm._openai import OpenAIProvider
from plait.llm._openai_compat import OpenAICompatibleProvider
from tests.llm._servers import serve

pytestmark = pytest.mark.filterwarnings(
    "ignore:Item .* on TypedDict class .* is using the `ReadOnly` qualifier:UserWarning"
)

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
seen: list[dict[str, Any]] = []
stub = FastAPI()


def _refuse(what: str) -> JSONResponse:
    body = {"error": {"message": f"unsupported {what}", "type": "error", "code": None}}
    return JSONResponse(body, status_code=500)


@stub.post("/v1/chat/completions")
async def chat(http: HttpRequest) -> Any:
    body = await http.json()
    seen.append(body)
    if body.get("response_format", {}).get("type") == "json_schema":
        return _refuse("response_format json_schema")
    if "stream_options" in body:
        return _refuse("stream_options")
    if body.get("stream"):
        deltas = [({"content": '{"a"'}, None), ({"content": ": 1}"}, None), ({}, "length")]
        chunks: list[dict[str, Any]] = [
            {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            for delta, finish in deltas
        ]
        text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return HttpResponse(text, media_type="text/event-stream")
    message = {"role": "assistant", "content": '{"a": 1}'}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
    }


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with serve(stub) as url:
        yield f"{url}/v1"


def providers(url: str) -> list[tuple[OpenAICompatibleProvider, str]]:
    return [
        (OpenAIProvider(base_url=url, transport="httpx"), "m"),
        (LiteLLMProvider(api_base=url, api_key="k"), "openai/m"),
    ]


def test_both_providers_share_complete_and_stream() -> None:
    for cls in (OpenAIProvider, LiteLLMProvider):
        assert issubclass(cls, OpenAICompatibleProvider)
        assert not {"complete", "stream", "_create"} & set(vars(cls))


@pytest.mark.parametrize("which", [0, 1], ids=["openai", "litellm"])
def test_refused_features_are_dropped_and_remembered(stub_url: str, which: int) -> None:
    provider, model = providers(stub_url)[which]
    request = Request(messages=[Message.user("hi")], json_schema=SCHEMA)

    async def both() -> tuple[Response, list[str | Response]]:
        done = await provider.complete(model, request)
        pieces = [p async for p in provider.stream(model, request)]
        await provider.close()
        return done, pieces

    seen.clear()
    done, pieces = asyncio.run(both())
    assert (done.text, done.finish_reason, done.provider) == ('{"a": 1}', "stop", provider.name)
    formats = [body["response_format"]["type"] for body in seen]
    assert formats == ["json_schema", "json_object", "json_object", "json_object"]
    assert ["stream_options" in body for body in seen] == [False, False, True, False]
    *texts, last = pieces
    assert texts == ['{"a"', ": 1}"] and isinstance(last, Response)
    assert (last.text, last.finish_reason) == ('{"a": 1}', "length")
