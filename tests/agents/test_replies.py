"""Replies cut by ``max_tokens`` or only half JSON, with a scripted model: asked again once
with twice the budget, then the ``final_answer`` read out and brought back to whole
sentences, else a clear AgentError — an agent never answers with protocol JSON."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from plait import AgentError, DefinitionError, Flow, start
from plait.agents import Agent
from plait.agents._replies import cut_repeats, salvage_final, whole_sentences
from plait.llm import Model, Response, ScriptedProvider, ToolCall, Usage, tool
from plait.runtime import ModelCalled


@tool
def word_count(text: str) -> int:
    """Count the words of a text.

    Args:
        text: The text to count.
    """
    return len(text.split())


def model(*script: Any, native: bool = False, max_tokens: int | None = None) -> Model:
    provider = ScriptedProvider(script, native_tools=native)
    return Model("m", provider=provider, max_tokens=max_tokens)


def cut(text: str, tokens: int = 0) -> Response:
    """A reply that ``max_tokens`` stopped."""
    return Response(text=text, finish_reason="length", usage=Usage(output_tokens=tokens))


def requests(m: Model) -> list[Any]:
    return m.provider.requests  # type: ignore[attr-defined,no-any-return]


HALF = '{ "final_answer": "The future of AI is bright. Doctors will use it every day. It will'


def test_a_cut_reply_is_asked_again_with_twice_the_budget() -> None:
    m = model(cut(HALF), json.dumps({"final_answer": "AI helps. It is here."}))
    agent = Agent("Editor", tools=[word_count], llm=m, max_tokens=160)
    result = asyncio.run(agent.run("Edit it"))
    assert result.text == "AI helps. It is here." and result.iterations == 1
    first, second = requests(m)
    assert (first.max_tokens, second.max_tokens) == (160, 320)
    assert second.messages == first.messages and second.json_schema == first.json_schema


def test_a_reply_cut_twice_keeps_the_whole_sentences_of_its_final_answer() -> None:
    m = model(cut(HALF), cut(HALF + " change"))
    agent = Agent("Editor", tools=[word_count], llm=m, max_tokens=160)
    result = asyncio.run(agent.run("Edit it"))
    assert result.text == "The future of AI is bright. Doctors will use it every day."
    assert result.output == result.text and len(requests(m)) == 2


def test_the_reported_editor_never_returns_raw_json() -> None:
    """The issue's editor: max_iterations=3, on_max_iterations="answer", every reply cut."""
    m = model(*[cut(HALF)] * 6)
    editor = Agent(
        "Content Editor",
        tools=[word_count],
        llm=m,
        max_tokens=160,
        max_iterations=3,
        on_max_iterations="answer",
    )
    result = asyncio.run(editor.run("Edit the article"))
    assert not result.text.startswith("{") and '"final_answer"' not in result.text
    assert result.text.endswith("every day.")


def test_half_json_that_is_not_cut_is_read_without_asking_again() -> None:
    m = model('{"final_answer": "Done, \\"quoted\\" and\nsplit."} and then some junk')
    result = asyncio.run(Agent("Editor", tools=[word_count], llm=m).run("Edit it"))
    assert result.text == 'Done, "quoted" and\nsplit.' and len(requests(m)) == 1


def test_a_cut_reply_with_nothing_to_keep_fails_clearly() -> None:
    m = model(cut('{"final_answer": "one long clause that never'), cut('{"final_answer": "x'))
    agent = Agent("Editor", tools=[word_count], llm=m, max_tokens=8)
    with pytest.raises(AgentError, match=r"'Editor': its reply was cut off by max_tokens") as info:
        asyncio.run(agent.run("Edit it"))
    assert "raise Agent(max_tokens=...)" in str(info.value) and info.value.agent == "Editor"
    tool_cut = model(cut('{"tool": "word_count", "arguments": {"text": "a b'), cut('{"tool": "w'))
    with pytest.raises(AgentError, match="cut off by max_tokens"):
        asyncio.run(Agent("Editor", tools=[word_count], llm=tool_cut).run("Edit it"))


def test_a_final_turn_without_a_final_answer_fails_clearly() -> None:
    m = model("not json", "still not json")
    agent = Agent("Editor", tools=[word_count], llm=m, max_iterations=2, on_max_iterations="answer")
    with pytest.raises(AgentError, match="asked for its final answer and gave none"):
        asyncio.run(agent.run("Edit it"))


def test_plain_text_cut_is_asked_again_then_trimmed_to_whole_sentences() -> None:
    m = model(cut("An article. It goes on and"), "An article. It is done.", native=True)
    writer = Agent("Writer", llm=m, max_tokens=100)
    assert asyncio.run(writer.run("Write")).text == "An article. It is done."
    assert [r.max_tokens for r in requests(m)] == [100, 200]
    twice = model(cut("An article. It goes on and"), cut("An article! It goes on and on"))
    assert asyncio.run(Agent("Writer", llm=twice).run("Write")).text == "An article!"


def test_the_larger_budget_comes_from_the_model_or_the_reply() -> None:
    from_model = model(cut("It was", 40), "It is.", native=True, max_tokens=300)
    asyncio.run(Agent("Writer", llm=from_model).run("Write"))
    assert [r.max_tokens for r in requests(from_model)] == [300, 600]
    from_reply = model(cut("It was", 256), "It is.", native=True)
    asyncio.run(Agent("Writer", llm=from_reply).run("Write"))
    assert [r.max_tokens for r in requests(from_reply)] == [None, 512]


def test_the_second_ask_is_recorded_in_the_run() -> None:
    m = model(cut(HALF), json.dumps({"final_answer": "Short. Done."}))
    agent = Agent("Editor", tools=[word_count], llm=m, max_tokens=50)

    class Edit(Flow):
        @start()
        async def edit(self) -> str:
            return (await agent.run("Edit it")).text

    flow = Edit()
    assert flow.kickoff() == "Short. Done."
    calls = [e for e in flow.events if isinstance(e, ModelCalled)]
    assert [c.response.finish_reason for c in calls] == ["length", "stop"]


def test_tool_choice_required_calls_a_tool_before_answering() -> None:
    m = model(
        json.dumps({"tool": "word_count", "arguments": {"text": "a b c"}}),
        json.dumps({"final_answer": "Three words."}),
    )
    agent = Agent("Editor", tools=[word_count], llm=m, tool_choice="required")
    result = asyncio.run(agent.run("Check it"))
    assert (result.text, result.tool_calls) == ("Three words.", ["word_count"])
    first, second = (r.json_schema["anyOf"] for r in requests(m))
    assert all("tool" in choice["properties"] for choice in first)
    assert any("final_answer" in choice["properties"] for choice in second)
    native = model(
        ToolCall(id="1", name="word_count", arguments={"text": "a"}), "One.", native=True
    )
    asyncio.run(Agent("Editor", tools=[word_count], llm=native, tool_choice="required").run("x"))
    assert [r.tool_choice for r in requests(native)] == ["required", None]
    with pytest.raises(DefinitionError, match="needs tools"):
        Agent("Editor", tool_choice="required")
    with pytest.raises(DefinitionError, match="'auto' or 'required'"):
        Agent("Editor", tools=[word_count], tool_choice="always")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"final_answer": "ab', ("ab", False)),
        ('{"final_answer": "a\\"b", "x": ', ('a"b', True)),
        ('{"final_answer": "caf\\u00e9 \\u00', ("café", False)),
        ('{"final_answer": "tab\\', ("tab", False)),
        ('```json\n{"final_answer":"fenced"}\n``` junk', ("fenced", True)),
        ('{"final_answer": "', None),
        ('{"tool": "x", "arguments": {"text": "final_answer"', None),
        ("plain words", None),
    ],
)
def test_salvage_final(text: str, expected: tuple[str, bool] | None) -> None:
    found = salvage_final(text)
    assert (None if found is None else (found.text, found.whole)) == expected


def test_whole_sentences() -> None:
    assert whole_sentences("One. Two! Three? Four and") == "One. Two! Three?"
    assert whole_sentences('He said "yes." Then') == 'He said "yes."'
    assert whole_sentences("Version 2.5 is out and") == ""
    assert whole_sentences("no end at all") == ""
    assert whole_sentences("- fact one\n- fact two\n- fact th") == "- fact one\n- fact two"
    assert whole_sentences("Facts:\n\n1. One is true.\n2. Two") == "Facts:\n\n1. One is true."


LOOP = (
    "AI will change care. This is a fact that doctors accept.\n\n"
    "AI will change care. This is a fact that doctors accept.\n\n"
    "AI will change care. This is a fact"
)


def test_a_looping_answer_keeps_one_copy_and_is_not_asked_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    m = model(cut(LOOP), native=True)
    writer = Agent("Writer", llm=m, max_tokens=100)
    with caplog.at_level("WARNING", logger="plait.agents"):
        result = asyncio.run(writer.run("Write"))
    assert result.text == "AI will change care. This is a fact that doctors accept."
    assert len(requests(m)) == 1  # more tokens would only loop longer
    assert "'Writer' repeated itself" in caplog.text


def test_a_looping_final_answer_in_the_json_protocol_keeps_one_copy() -> None:
    half = json.dumps({"final_answer": LOOP})[:-2]  # cut inside the string
    m = model(cut(half))
    result = asyncio.run(Agent("Editor", tools=[word_count], llm=m).run("Edit it"))
    assert result.text == "AI will change care. This is a fact that doctors accept."
    assert len(requests(m)) == 1


def test_a_cut_tool_call_that_repeats_itself_is_still_asked_again() -> None:
    looped_call = json.dumps({"tool": "word_count", "arguments": {"text": LOOP}})[:-5]
    m = model(
        cut(looped_call),
        json.dumps({"tool": "word_count", "arguments": {"text": "a b"}}),
        json.dumps({"final_answer": "Two words."}),
    )
    result = asyncio.run(Agent("Editor", tools=[word_count], llm=m).run("Count"))
    assert result.text == "Two words." and len(requests(m)) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One two three four. Five six. One two three four. Five", "One two three four. Five six."),
        ("A b c d!\nA b c d!\nA b", "A b c d!"),
        ("1. The sky is blue here.\n2. The sky is blue here.\n3.", "1. The sky is blue here."),
        ("- one fact about bees\n- One fact about bees.", "- one fact about bees"),
        (
            "We said it. Then: we said it, again. We Said It.",
            "We said it. Then: we said it, again. We Said It.",
        ),
        ("Yes. Yes. No. No.", "Yes. Yes. No. No."),  # short sentences may come back
        ("No repeat at all here. None.", "No repeat at all here. None."),
        ("", ""),
    ],
)
def test_cut_repeats(text: str, expected: str) -> None:
    assert cut_repeats(text) == expected
