"""The main job's flow (examples/content.py) with a scripted model: four agent steps in
order, each stage's output the next one's context, the editor's tool call recorded."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from plait.llm import Model, ScriptedProvider, usage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "content.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examples_content", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_content_flow_stages_hand_their_work_on(monkeypatch: pytest.MonkeyPatch) -> None:
    article = " ".join(["word"] * 40)
    provider = ScriptedProvider(
        [
            "fact one; fact two",
            "message: X; sections: A, B, C",
            article,
            json.dumps({"tool": "word_count", "arguments": {"text": article}}),
            json.dumps({"final_answer": article.upper()}),
        ],
        native_tools=False,
    )
    model = Model("m", provider=provider)
    content = load()
    monkeypatch.setattr(content.Agent, "model", property(lambda self: model))
    flow = content.ContentCreationFlow()
    out = flow.kickoff({"topic": "bees", "audience": "farmers"})
    assert out == article.upper() == flow.state.final
    prompts: list[Any] = [r.messages[1].content for r in provider.requests]
    assert "about bees that matter to farmers" in prompts[0]
    assert "fact one; fact two" in prompts[1]
    assert "message: X" in prompts[2] and "fact one" in prompts[2]
    assert provider.requests[4].messages[-1].content == "Result of word_count:\n```\n40\n```"
    totals = usage(flow.events)
    assert totals.total.model_calls == 5 and totals.total.tool_calls == 1
    assert list(totals.steps) == ["research", "strategy", "write", "edit"]
