"""``@tool``: schemas from signatures, validated arguments, errors as ToolError, recording;
and the built-in calculator, file reader and HTTP GET."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

import pytest

from plait import DefinitionError, Flow, ToolError, start
from plait.llm import Tool, calculator, http_get, read_file, tool
from plait.runtime import ToolCalled


@tool
def search(query: str, limit: int = 3, kind: Literal["web", "news"] = "web") -> list[str]:
    """Search for documents.

    Args:
        query: What to look for.
        limit: How many results.
    """
    return [f"{kind}:{query}:{i}" for i in range(limit)]


def test_schema_comes_from_the_signature_and_docstring() -> None:
    assert search.name == "search"
    assert search.description == "Search for documents."
    props = search.parameters["properties"]
    assert props["query"] == {
        "description": "What to look for.",
        "title": "Query",
        "type": "string",
    }
    assert props["limit"]["default"] == 3 and props["limit"]["type"] == "integer"
    assert props["kind"]["enum"] == ["web", "news"]
    assert search.parameters["required"] == ["query"]
    assert search.spec.name == "search"


def test_arguments_are_validated_before_the_tool_runs() -> None:
    assert asyncio.run(search.call({"query": "ai", "limit": "2"})) == ["web:ai:0", "web:ai:1"]
    with pytest.raises(ToolError, match=r"wrong arguments \(query: Field required\)"):
        asyncio.run(search.call({"limit": 2}))
    with pytest.raises(ToolError, match="kind: Input should be 'web' or 'news'"):
        asyncio.run(search.call({"query": "x", "kind": "video"}))
    with pytest.raises(ToolError, match="surprise: Extra inputs are not permitted"):
        asyncio.run(search.call({"query": "x", "surprise": 1}))
    with pytest.raises(ToolError, match="takes an object of arguments"):
        asyncio.run(search.call(["x"]))  # type: ignore[arg-type]


def test_a_failing_or_slow_tool_gives_a_tool_error() -> None:
    @tool
    def broken(x: int) -> int:
        """Always fails."""
        raise KeyError(x)

    @tool(timeout=0.05)
    async def slow() -> str:
        await asyncio.sleep(1)
        return "late"

    with pytest.raises(ToolError, match="tool 'broken' failed: KeyError: 1"):
        asyncio.run(broken.call({"x": 1}))
    with pytest.raises(ToolError, match=r"did not finish within 0\.05 s"):
        asyncio.run(slow.call({}))


def test_bad_tool_definitions() -> None:
    def spread(*args: Any) -> None:
        pass

    with pytest.raises(DefinitionError, match=r"\*args cannot be described"):
        Tool(spread)
    with pytest.raises(DefinitionError, match="tool name"):
        Tool(lambda: None, name="has space")


def test_tool_calls_in_a_step_are_recorded_and_replayed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    ran: list[str] = []
    crash = {"on": True}

    @tool
    def charge(amount: int) -> str:
        """Charge a card (must not happen twice)."""
        ran.append(f"charge {amount}")
        return f"charged {amount}"

    class Pay(Flow):
        @start()
        async def pay(self) -> str:
            receipt = await charge.call({"amount": 5})
            if crash["on"]:
                raise RuntimeError("crash after charging")
            return str(receipt)

    flow = Pay()
    with pytest.raises(RuntimeError, match="crash after charging"):
        flow.kickoff(store=url)
    (event,) = [e for e in flow.events if isinstance(e, ToolCalled)]
    assert (event.tool, event.arguments, event.output, event.error) == (
        "charge",
        {"amount": 5},
        "charged 5",
        "",
    )
    crash["on"] = False
    assert Pay().resume(flow.run_id, store=url) == "charged 5"
    assert ran == ["charge 5"]  # not charged again on resume


@pytest.mark.parametrize(
    ("expression", "value"),
    [("2 + 3 * 4", 14.0), ("(2 + 3) * sqrt(16)", 20.0), ("-2 ** 2", -4.0), ("max(1, 7) % 4", 3.0)],
)
def test_calculator(expression: str, value: float) -> None:
    assert asyncio.run(calculator.call({"expression": expression})) == value


@pytest.mark.parametrize(
    "expression", ["__import__('os').system('echo hi')", "x.y", "open('f')", "9 ** 99999", "1 +"]
)
def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ToolError, match="tool 'calculator' failed"):
        asyncio.run(calculator.call({"expression": expression}))


def test_read_file_stays_inside_its_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path.parent / "secret.txt").write_text("no")
    reader = read_file(tmp_path)
    assert asyncio.run(reader.call({"path": "notes.txt"})) == "hello"
    with pytest.raises(ToolError, match="only inside"):
        asyncio.run(reader.call({"path": "../secret.txt"}))
    with pytest.raises(ToolError, match=r"no file 'missing\.txt'"):
        asyncio.run(reader.call({"path": "missing.txt"}))


def test_http_get_refuses_hosts_off_its_allow_list() -> None:
    getter = http_get(["example.org", ".docs.example.com"])
    for url in ["http://evil.test/x", "file:///etc/passwd", "https://example.org.evil.test/"]:
        with pytest.raises(ToolError, match="may fetch only"):
            asyncio.run(getter.call({"url": url}))


@pytest.mark.parametrize(
    "expression", ["((10**1000)**1000)**100", "9**9**9", "(-8) ** 0.5", "2**5000", "10.0**400"]
)
def test_calculator_refuses_huge_or_complex_results_fast(expression: str) -> None:
    with pytest.raises(ToolError, match="tool 'calculator' failed"):
        asyncio.run(calculator.call({"expression": expression}))


def test_importing_the_llm_layer_warns_about_nothing() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import plait.llm, plait.agents"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
