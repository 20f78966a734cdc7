"""Values typed on the command line (``--input``, ``--set``, ``--value``) are read with
the type they are for, through one parser; errors and hints speak the command line's
syntax; ``plait validate`` lists the inputs a flow takes."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from plait import Flow, Workflow, start
from plait.cli._app import app
from plait.cli._run import cli_hint
from plait.engine import (
    input_fields,
    parse_pairs,
    parse_text,
    schema_check,
    state_fields,
    type_check,
)

FLOWS = textwrap.dedent(
    """
    from pydantic import BaseModel, ConfigDict
    from plait import Flow, Workflow, listen, start


    class Params(BaseModel):
        id: str = ""
        text: str
        count: int = 2
        tags: list[str] = []


    class Echo(Flow[Params]):
        @start()
        def go(self):
            return {"text": self.state.text, "count": self.state.count, "tags": self.state.tags}


    class Verdict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        ok: bool
        note: str = ""


    class Asking(Flow):
        @start()
        def draft(self):
            return "v1"

        @listen(draft)
        async def approve(self, draft):
            verdict = await self.ask("ok?", schema=Verdict)
            return f"{draft} {verdict.ok}"


    wf = Workflow("wf")


    @wf.task()
    def make(topic: str, times: int = 2):
        return topic * times


    @wf.task(depends_on=[make])
    def show(make):
        return make
    """
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    (tmp_path / "flows.py").write_text(FLOWS)
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def output_of(*args: str) -> Any:
    result = invoke("run", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["output"]


# -- --input ----------------------------------------------------------------------------


def test_an_input_is_read_as_its_field_s_type() -> None:
    out = output_of("flows.py:Echo", "--input", "text=5", "-i", "count=5", "-i", 'tags=["a"]')
    assert out == {"text": "5", "count": 5, "tags": ["a"]}
    assert output_of("flows.py:Echo", "-i", 'text="quoted"')["text"] == "quoted"
    assert output_of("flows.py:wf", "-i", "topic=7", "-i", "times=3") == "777"


def test_a_value_that_fits_neither_way_is_refused_by_the_run() -> None:
    result = invoke("run", "flows.py:Echo", "-i", "text=a", "-i", "count=many")
    assert result.exit_code == 1
    assert "count" in result.stderr and "many" in result.stderr
    assert "Traceback" not in result.output


def test_a_missing_input_is_asked_for_in_the_command_line_s_syntax() -> None:
    result = invoke("run", "flows.py:Echo")
    assert result.exit_code == 1
    assert "--input text=..." in result.stderr
    assert "inputs={" not in result.stderr


def test_cli_hint() -> None:
    assert cli_hint("pass it in inputs={'text': ...}") == "pass it in --input text=..."
    assert (
        cli_hint("Pass inputs={'a': ..., 'b': ...}, or") == "Pass --input a=... --input b=..., or"
    )
    assert cli_hint("pass kickoff(inputs={'x': ...})") == "pass --input x=..."
    assert cli_hint("inputs={'topic': 'AI'}") == "inputs={'topic': 'AI'}"  # not a hint


# -- plait validate ---------------------------------------------------------------------


def test_validate_lists_the_inputs_with_types_and_defaults() -> None:
    result = invoke("validate", "flows.py:Echo")
    assert result.exit_code == 0, result.output
    assert "inputs (--input KEY=VALUE):" in result.stdout
    assert "text: str (required)" in result.stdout
    assert "count: int = 2" in result.stdout
    assert "tags: list[str] = []" in result.stdout
    assert "    id: " not in result.stdout  # the run's id

    workflow = invoke("validate", "flows.py:wf")
    assert "topic: str (required)" in workflow.stdout and "times: int = 2" in workflow.stdout
    assert "make" not in workflow.stdout.partition("inputs")[2]  # a dependency, not an input

    free = invoke("validate", "flows.py:Asking")
    assert "inputs: any keys (dict state)" in free.stdout


# -- plait runs respond -----------------------------------------------------------------


def test_a_wrong_answer_reports_what_is_wrong_with_its_json() -> None:
    started = invoke("run", "flows.py:Asking", "--json")
    assert started.exit_code == 3, started.output
    run_id = json.loads(started.stdout)["run_id"]

    wrong = invoke("runs", "respond", run_id, "--value", '{"ok": true, "nope": 1}')
    assert wrong.exit_code == 1
    assert "'nope' was unexpected" in wrong.stderr
    assert "is not of type 'object'" not in wrong.stderr  # the plain-text fallback's
    assert "Nothing was stored" in wrong.stderr

    done = invoke("runs", "respond", run_id, "--value", '{"ok": true}')
    assert done.exit_code == 0, done.output
    assert "v1 True" in done.stdout


# -- plait runs fork --set --------------------------------------------------------------


def test_set_reads_values_with_the_state_s_types() -> None:
    ran = invoke("run", "flows.py:Echo", "-i", "text=a", "--json")
    run_id = json.loads(ran.stdout)["run_id"]
    forked = invoke("runs", "fork", run_id, "1", "--set", "text=5", "--resume", "--json")
    assert forked.exit_code == 0, forked.output
    assert json.loads(forked.stdout)["output"]["text"] == "5"


# -- the parser -------------------------------------------------------------------------


class State(BaseModel):
    id: str = ""
    text: str
    n: int = 1


class Typed(Flow[State]):
    @start()
    def go(self) -> int:
        return 1


def test_parse_text() -> None:
    assert parse_text("5") == 5 and parse_text("x y") == "x y"
    assert parse_text("5", type_check(str)) == "5"
    assert parse_text("5", type_check(int)) == 5
    assert parse_text("null", type_check(str | None)) is None
    with pytest.raises(ValueError, match="valid integer"):
        parse_text("many", type_check(int))
    check = schema_check({"type": "object", "additionalProperties": False})
    with pytest.raises(ValueError, match="'b' was unexpected"):
        parse_text('{"b": 1}', check)
    assert parse_text("ok", schema_check({"type": "string"})) == "ok"


def test_parse_pairs() -> None:
    fields = input_fields(Typed)
    assert parse_pairs(["text=5", "n=5"], fields=fields) == {"text": "5", "n": 5}
    assert parse_pairs(["x=[1]"], base='{"a": 1}') == {"a": 1, "x": [1]}
    with pytest.raises(ValueError, match="--set 'oops' is not key=value"):
        parse_pairs(["oops"], option="--set")
    with pytest.raises(ValueError, match="--set-json must be a JSON object"):
        parse_pairs([], option="--set", base="[1]", base_option="--set-json")


def test_input_and_state_fields() -> None:
    assert [(f.name, f.required) for f in input_fields(Typed())] == [("text", True), ("n", False)]
    assert [f.name for f in state_fields(Typed)] == ["id", "text", "n"]
    wf = Workflow("w")

    @wf.task()
    def a(q: str, k: int = 3) -> str:
        return q * k

    @wf.task(depends_on=[a])
    def b(a: str, *, extra: bool = False) -> str:
        return a

    assert [f.describe() for f in input_fields(wf)] == [
        "q: str (required)",
        "k: int = 3",
        "extra: bool = False",
    ]
