"""``plait runs checkpoints|state|diff|fork`` on a run stored by ``plait run``."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from plait.cli._app import app

FLOW = textwrap.dedent(
    """
    from pathlib import Path

    from plait import Flow, listen, start

    LOG = Path(__file__).with_name("ran.log")


    def ran(step):
        with LOG.open("a") as f:
            f.write(step + "\\n")


    class Steps(Flow):
        @start()
        def one(self):
            ran("one")
            self.state["a"] = 1
            self.state["tmp"] = "x"
            return 1

        @listen(one)
        def two(self, value):
            ran("two")
            self.state["b"] = self.state["a"] + 1
            return value + 1

        @listen(two)
        def three(self, value):
            ran("three")
            self.state["c"] = self.state["b"] * 10
            del self.state["tmp"]
            return self.state["c"] + value
    """
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    (tmp_path / "steps.py").write_text(FLOW)
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _ran(tmp_path: Path) -> list[str]:
    log = tmp_path / "ran.log"
    steps = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return steps


@pytest.fixture
def run_id(tmp_path: Path) -> str:
    result = invoke("run", "steps.py", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["output"] == 22
    assert _ran(tmp_path) == ["one", "two", "three"]
    found: str = doc["run_id"]
    return found


def _checkpoints(run_id: str) -> list[dict[str, Any]]:
    result = invoke("runs", "checkpoints", run_id, "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _last_seq(run_id: str) -> int:
    shown = invoke("runs", "show", run_id, "--json")
    assert shown.exit_code == 0, shown.output
    last: int = json.loads(shown.stdout)["events"][-1]["seq"]
    return last


def test_checkpoints_as_json_and_as_a_table(run_id: str) -> None:
    rows = _checkpoints(run_id)
    assert [r["step"] for r in rows] == ["", "one", "two", "three"]
    assert rows[0]["seq"] == 1 and rows[0]["invocation"] == 0
    assert [r["invocation"] for r in rows[1:]] == [1, 1, 1]
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)
    assert all(isinstance(r["ts"], float) for r in rows)
    assert [(r["changed"], r["removed"]) for r in rows[1:]] == [
        (["a", "tmp"], []),
        (["b"], []),
        (["c"], ["tmp"]),
    ]

    table = invoke("runs", "checkpoints", run_id)
    assert table.exit_code == 0, table.output
    for text in ("seq", "step", "invocation", "time", "(start)", "one", "two", "three", "−tmp"):
        assert text in table.stdout
    assert f"plait runs state {run_id} SEQ" in table.stdout


def test_state_at_a_checkpoint(run_id: str) -> None:
    at_two = _checkpoints(run_id)[2]
    result = invoke("runs", "state", run_id, str(at_two["seq"]), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"id": run_id, "a": 1, "tmp": "x", "b": 2}

    pretty = invoke("runs", "state", run_id, str(at_two["seq"]))
    assert pretty.exit_code == 0, pretty.output
    assert f"after event {at_two['seq']}" in pretty.stdout
    assert "'tmp': 'x'" in pretty.stdout and "'b': 2" in pretty.stdout


def test_diff_between_the_start_and_the_end(run_id: str) -> None:
    last = str(_last_seq(run_id))
    result = invoke("runs", "diff", run_id, "1", last, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"key": "a", "a": None, "b": 1, "change": "added"},
        {"key": "b", "a": None, "b": 2, "change": "added"},
        {"key": "c", "a": None, "b": 20, "change": "added"},
    ]
    at_one = str(_checkpoints(run_id)[1]["seq"])
    backwards = invoke("runs", "diff", run_id, last, at_one, "--json")
    assert {r["key"]: r["change"] for r in json.loads(backwards.stdout)} == {
        "b": "removed",
        "c": "removed",
        "tmp": "added",
    }

    table = invoke("runs", "diff", run_id, at_one, last)
    assert table.exit_code == 0, table.output
    assert f"at {at_one}" in table.stdout and f"at {last}" in table.stdout
    assert '"x"' in table.stdout and "—" in table.stdout and "20" in table.stdout

    same = invoke("runs", "diff", run_id, last, last)
    assert same.exit_code == 0 and "is the same" in same.stdout


def test_fork_with_set_then_resume(run_id: str, tmp_path: Path) -> None:
    at_two = str(_checkpoints(run_id)[2]["seq"])
    forked = invoke("runs", "fork", run_id, at_two, "--set", "b=5", "--json")
    assert forked.exit_code == 0, forked.output
    doc = json.loads(forked.stdout)
    assert doc["forked_from"] == run_id and doc["state_changes"] == {"b": 5}
    new_id = doc["run_id"]
    assert new_id != run_id
    state = json.loads(invoke("runs", "state", new_id, str(int(at_two) + 1), "--json").stdout)
    assert state["b"] == 5
    assert _ran(tmp_path) == []  # forking runs nothing

    resumed = invoke("runs", "resume", new_id, "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["output"] == 52
    assert _ran(tmp_path) == ["three"]

    again = invoke("runs", "fork", run_id, at_two, "--set", "b=7", "--set", 'note="hi"', "--resume")
    assert again.exit_code == 0, again.output
    assert "forked run" in again.stdout and "Result" in again.stdout and "72" in again.stdout
    assert _ran(tmp_path) == ["three"]

    plain = invoke(
        "runs", "fork", run_id, at_two, "--set-json", '{"b": 3, "who": "me"}', "--set", "who=you"
    )
    assert plain.exit_code == 0, plain.output
    assert "plait runs resume" in plain.stdout

    out = invoke(
        "runs",
        "fork",
        run_id,
        at_two,
        "steps.py:Steps",
        "--set-json",
        '{"b": 0}',
        "--resume",
        "--json",
    )
    assert out.exit_code == 0, out.output
    done = json.loads(out.stdout)
    assert done["status"] == "completed" and done["output"] == 2
    assert done["state"]["b"] == 0 and done["run_id"] not in (run_id, new_id)

    original = json.loads(invoke("runs", "state", run_id, str(_last_seq(run_id)), "--json").stdout)
    assert original == {"id": run_id, "a": 1, "b": 2, "c": 20}


def test_string_values_stay_strings(run_id: str) -> None:
    at_two = str(_checkpoints(run_id)[2]["seq"])
    forked = invoke("runs", "fork", run_id, at_two, "--set", "who=a person", "--json")
    assert forked.exit_code == 0, forked.output
    assert json.loads(forked.stdout)["state_changes"] == {"who": "a person"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["checkpoints", "nope"], "no run nope"),
        (["state", "nope", "1"], "no run nope"),
        (["diff", "nope", "1", "2"], "no run nope"),
        (["fork", "nope", "1"], "no run nope"),
        (["state", "{run}", "99"], "has no event 99"),
        (["diff", "{run}", "1", "99"], "has no event 99"),
        (["fork", "{run}", "99"], "has no event 99"),
        (["fork", "{run}", "2"], "is not a checkpoint"),
    ],
)
def test_errors_are_one_message_and_exit_1(run_id: str, args: list[str], message: str) -> None:
    result = invoke("runs", *[a.replace("{run}", run_id) for a in args])
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_bad_set_is_a_usage_error(run_id: str) -> None:
    for args in (["--set", "novalue"], ["--set-json", "[1]"], ["--set-json", "{oops"]):
        result = invoke("runs", "fork", run_id, "1", *args)
        assert result.exit_code == 2, result.output


def test_rerun_from_a_step_runs_only_it_and_what_follows(run_id: str, tmp_path: Path) -> None:
    result = invoke("runs", "rerun", run_id, "--from", "two", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "completed" and doc["output"] == 22
    assert doc["run_id"] != run_id
    assert _ran(tmp_path) == ["two", "three"]

    later = invoke("runs", "rerun", run_id, "--from", "three", "--no-resume")
    assert later.exit_code == 0, later.output
    assert "go on with: plait runs resume" in later.stdout
    assert _ran(tmp_path) == []

    bad = invoke("runs", "rerun", run_id, "--from", "tow")
    assert bad.exit_code == 1
    assert "has no step 'tow'" in bad.stderr


TYPED = textwrap.dedent(
    """
    from pydantic import BaseModel

    from plait import Flow, listen, start


    class Count(BaseModel):
        n: int = 0
        label: str = ""


    class Typed(Flow[Count]):
        @start()
        def one(self):
            self.state.n = 1
            return 1

        @listen(one)
        def two(self, value):
            self.state.n += 1
            return self.state.n
    """
)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("n=abc", "state key 'n' expects int"),
        ("bogus=1", "has no state key 'bogus'; its fields are"),
    ],
)
def test_fork_with_a_set_the_state_model_refuses_stores_nothing(
    tmp_path: Path, edit: str, message: str
) -> None:
    (tmp_path / "typed.py").write_text(TYPED)
    result = invoke("run", "typed.py", "--json")
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.stdout)["run_id"]
    at_one = str(_checkpoints(run_id)[1]["seq"])
    runs_before = invoke("runs", "list", "--json").stdout

    refused = invoke("runs", "fork", run_id, at_one, "--set", edit)
    assert refused.exit_code == 1, refused.output
    assert message in " ".join(refused.stderr.split())
    assert "Traceback" not in refused.output
    assert invoke("runs", "list", "--json").stdout == runs_before

    fixed = invoke("runs", "fork", run_id, at_one, "--set", "n=7", "--resume", "--json")
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["output"] == 8
