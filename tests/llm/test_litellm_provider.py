"""LiteLLMProvider through the real ``litellm`` against llama.cpp's OpenAI-compatible
server (model ``openai/<name>`` with ``api_base``), plus a stub server for errors, and a
check that using litellm through plait looks nothing up on the internet."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from plait.llm._litellm import OFFLINE_ENVIRONMENT, LiteLLMProvider
from plait.llm._messages import Message, Request, Response, ToolSpec
from plait.llm._provider import Provider, ProviderFailure
from tests.llm._servers import free_port, serve

# litellm builds pydantic models of TypedDicts with ReadOnly items at first use; pydantic
# warns about that, and pytest's warnings-as-errors would turn it into a failed call.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Item .* on TypedDict class .* is using the `ReadOnly` qualifier:UserWarning"
)

MODEL = "openai/smollm2"
COUNT = ToolSpec(
    name="count",
    description="Count things.",
    parameters={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
)
PERSON = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}


def ask(text: str, **options: Any) -> Request:
    options.setdefault("max_tokens", 16)
    return Request(messages=[Message.user(text)], temperature=0.0, **options)


def complete(provider: LiteLLMProvider, model: str, request: Request) -> Response:
    return asyncio.run(provider.complete(model, request))


def failure_of(provider: LiteLLMProvider, model: str) -> ProviderFailure:
    with pytest.raises(ProviderFailure) as caught:
        complete(provider, model, ask("hi"))
    return caught.value


@pytest.fixture
def provider(llama_server: str) -> LiteLLMProvider:
    return LiteLLMProvider(api_base=llama_server, api_key="not-needed")


def test_is_a_provider_and_keeps_litellm_offline() -> None:
    provider = LiteLLMProvider()
    assert isinstance(provider, Provider)
    assert (provider.name, provider.native_tools) == ("litellm", True)
    for name in OFFLINE_ENVIRONMENT:
        assert os.environ.get(name)


def test_chat_completion(provider: LiteLLMProvider) -> None:
    response = complete(provider, MODEL, ask("Say hello."))
    assert isinstance(response.text, str) and response.text
    assert (response.provider, response.model) == ("litellm", MODEL)
    assert response.usage.input_tokens > 0 and 0 < response.usage.output_tokens <= 16


def test_streaming_gives_pieces_then_the_response_with_usage(provider: LiteLLMProvider) -> None:
    async def go() -> list[str | Response]:
        return [item async for item in provider.stream(MODEL, ask("Count to five."))]

    *pieces, last = asyncio.run(go())
    assert pieces and all(isinstance(piece, str) and piece for piece in pieces)
    assert isinstance(last, Response)
    assert last.text == "".join(str(piece) for piece in pieces)
    assert last.usage.output_tokens > 0  # litellm counts them when the server does not say


def test_forced_tool_call(provider: LiteLLMProvider) -> None:
    request = ask("Count the apples.", tools=[COUNT], tool_choice="count", max_tokens=32)
    response = complete(provider, MODEL, request)
    assert [call.name for call in response.tool_calls] == ["count"]
    assert isinstance(response.tool_calls[0].arguments.get("n"), int)


def test_json_schema_output_fits_the_schema(provider: LiteLLMProvider) -> None:
    response = complete(
        provider, MODEL, ask("A person as JSON.", json_schema=PERSON, max_tokens=32)
    )
    jsonschema.validate(json.loads(response.text), PERSON)


def test_unreachable_server_is_retryable_and_fast() -> None:
    provider = LiteLLMProvider(api_base=f"http://127.0.0.1:{free_port()}/v1", api_key="k")
    started = time.perf_counter()
    failure = failure_of(provider, MODEL)
    assert time.perf_counter() - started < 5
    assert failure.retryable and "cannot reach litellm" in str(failure)


stub = FastAPI()


@stub.post("/v1/chat/completions")
async def chat() -> JSONResponse:
    body = {"error": {"message": "slow down", "type": "rate_limit", "code": None, "param": None}}
    return JSONResponse(body, status_code=429, headers={"Retry-After": "2"})


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    with serve(stub) as url:
        yield f"{url}/v1"


def test_rate_limit_is_retryable_with_retry_after(stub_url: str) -> None:
    failure = failure_of(LiteLLMProvider(api_base=stub_url, api_key="k"), MODEL)
    assert failure.retryable and failure.retry_after == 2.0


def test_no_internet_lookups(stub_url: str) -> None:
    """Importing litellm through plait and calling a model resolves no host but loopback."""
    script = textwrap.dedent(
        f"""
        import asyncio, socket
        real = socket.getaddrinfo
        def spy(host, *args, **kwargs):
            if host not in ("127.0.0.1", "localhost", "::1"):
                print("LOOKUP", host, flush=True)
            return real(host, *args, **kwargs)
        socket.getaddrinfo = spy
        from plait.llm._litellm import LiteLLMProvider
        from plait.llm._messages import Message, Request
        from plait.llm._provider import ProviderFailure
        provider = LiteLLMProvider(api_base={stub_url!r}, api_key="k")
        try:
            asyncio.run(provider.complete("{MODEL}", Request(messages=[Message.user("hi")])))
        except ProviderFailure:
            print("DONE")
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_ENVIRONMENT}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stdout.split() == ["DONE"], result.stdout + result.stderr
