"""The main job's flow (examples/content.py) with a scripted model: four agent steps in
order, each stage's output the next one's input, the editor's tool call recorded, and
an article within the limit whatever the editor answers."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from plait.llm import Model, Response, ScriptedProvider, usage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "content.py"
PLAN = {"message": "Bees need farmers", "sections": ["Why", "How", "Next"]}


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_content", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as the CLI's loader does: pydantic resolves through it
    spec.loader.exec_module(module)
    return module


def paragraph(n: int, words: int = 14) -> str:
    """A paragraph of two sentences, the first ``words`` words long."""
    return f"Paragraph {n} says {' '.join(['more'] * (words - 4))}. It ends paragraph {n}."


def run(*script: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ScriptedProvider]:
    provider = ScriptedProvider(
        ["1. Fact one.\n2. Fact two.", "message: X; sections: A, B, C", json.dumps(PLAN), *script],
        native_tools=False,
    )
    model = Model("m", provider=provider)
    content = load()
    monkeypatch.setattr(content.Agent, "model", property(lambda self: model))
    flow = content.ContentCreationFlow()
    out = flow.kickoff({"topic": "bees", "audience": "farmers"})
    assert out == flow.state.final
    return flow, provider


def check(article: str) -> str:
    return json.dumps({"tool": "check_length", "arguments": {"text": article}})


def test_content_flow_stages_hand_their_work_on(monkeypatch: pytest.MonkeyPatch) -> None:
    edited = " ".join(f"Edited sentence {n} is here and it is fine." for n in range(7))
    flow, provider = run(
        f"Here is the paragraph:\n{paragraph(1)}\n\nAnd a second one nobody asked for.",
        f"2. {paragraph(2)} Paragraph 1 says more more more more again.",  # said before
        paragraph(3),
        check("draft"),
        json.dumps({"final_answer": edited}),
        monkeypatch=monkeypatch,
    )
    assert flow.state.final == edited  # the editor's article is the result
    assert flow.state.strategy == "Message: Bees need farmers\n1. Why\n2. How\n3. Next"
    assert flow.state.draft == "\n\n".join([paragraph(1), paragraph(2), paragraph(3)])
    prompts: list[Any] = [r.messages[1].content for r in provider.requests]
    assert "about bees that matter to farmers" in prompts[0]
    assert "Fact two." in prompts[1] and "Fact two." in prompts[3]
    assert [p.split("write the ")[1].split(" paragraph")[0] for p in prompts[3:6]] == [
        "opening",
        "middle",
        "closing",
    ]
    assert "for farmers about Why." in prompts[3] and "message: X" not in prompts[3]
    editor = provider.requests[6]
    assert all("tool" in choice["properties"] for choice in editor.json_schema["anyOf"])
    told = provider.requests[7].messages[-1].content
    assert told == "Result of check_length:\n```\n1 words: within the limit of 150.\n```"
    totals = usage(flow.events)
    assert totals.total.model_calls == 8 and totals.total.tool_calls == 1
    assert list(totals.steps) == ["research", "strategy", "write", "edit"]


def test_a_long_draft_the_editor_does_not_shorten_is_cut_to_the_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    long = [paragraph(n, words=60) for n in (1, 2, 3)]
    with caplog.at_level("WARNING"):
        flow, _ = run(
            *long, check("x"), json.dumps({"final_answer": "Done."}), monkeypatch=monkeypatch
        )
    assert len(flow.state.draft.split()) == 189
    assert flow.state.final == "\n\n".join([long[0], long[1]])  # whole sentences, 126 words
    assert "the editor answered with no article ('Done.'); the draft stands" in caplog.text
    assert "189 words, over the limit of 150: kept its first 126 words" in caplog.text


def test_an_editor_that_fails_leaves_the_draft_cut_to_the_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cut = Response(text='{"tool": "check_length", "arguments": {"text": "A', finish_reason="length")
    long = [paragraph(n, words=60) for n in (1, 2, 3)]
    with caplog.at_level("WARNING"):
        flow, _ = run(*long, cut, cut, monkeypatch=monkeypatch)
    assert flow.state.final == "\n\n".join(long[:2])
    assert "the editor failed (agent 'Content Editor': its reply was cut off" in caplog.text


def test_the_length_check_says_what_to_do() -> None:
    content = load()
    assert content.check_length.fn(" ".join(["w"] * 160)) == (
        "160 words: 10 over the limit of 150; shorten it."
    )
