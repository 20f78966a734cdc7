"""The ``plait`` command line, driven through typer's CliRunner on flows written to disk."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import plait
from plait.cli._app import app
from plait.cli._errors import reported

FLOWS = textwrap.dedent(
    """
    import asyncio
    import enum

    from pydantic import BaseModel

    from plait import Flow, RetryPolicy, Workflow, and_, context, listen, or_, router, start


    class Greet(Flow):
        @start()
        def hello(self):
            self.state["greeting"] = f"hello {self.state['name']}"
            return self.state["n"] * 2

        @listen(hello)
        def shout(self, doubled):
            return {"doubled": doubled, "greeting": self.state["greeting"].upper()}


    greeter = Greet()


    class Pair(Flow):
        '''Two start steps that wait for each other, so they surely overlap.'''

        def __init__(self):
            super().__init__()
            self.arrived = 0
            self.both = asyncio.Event()

        async def _meet(self):
            self.arrived += 1
            if self.arrived == 2:
                self.both.set()
            await self.both.wait()

        @start()
        async def left(self):
            await self._meet()
            return "l"

        @start()
        async def right(self):
            await self._meet()
            return "r"

        @listen(and_(left, right))
        def done(self):
            return "done"


    class Many(Flow):
        @start()
        def begin(self):
            self.state["i"] = 0

        @router(or_(begin, "again"), labels=["again", "finished"])
        def tick(self):
            self.state["i"] += 1
            return "again" if self.state["i"] < 50 else "finished"

        @listen("finished")
        def end(self):
            return self.state["i"]


    class Boom(Flow):
        @start()
        def fine(self):
            return 1

        @listen(fine)
        def explode(self, value):
            raise ValueError("kaboom")


    class Flaky(Flow):
        @start(retry=RetryPolicy(attempts=2, backoff=0))
        def shaky(self):
            if context().attempt == 1:
                raise RuntimeError("first try fails")
            return "ok"


    class Params(BaseModel):
        n: int = 1


    class Typed(Flow[Params]):
        @start()
        def twice(self):
            return self.state.n * 2


    class Invalid(Flow):
        @start()
        def a(self):
            return 1

        @listen("nope")
        def b(self):
            return 2

        @listen("missing")
        def c(self):
            return 3


    etl = Workflow("etl")


    @etl.task()
    def extract():
        return [1, 2, 3]


    @etl.task(depends_on=[extract])
    def total(extract):
        return sum(extract)


    @etl.task(depends_on=[extract])
    def count(extract):
        return len(extract)


    class NeedsArgs(Flow):
        def __init__(self, x):
            super().__init__()

        @start()
        def go(self):
            return 1


    class Thing(enum.Enum):  # storable, but not JSON
        T = "<Thing>"


    class Odd(Flow):
        @start()
        def make(self):
            import datetime

            self.state["thing"] = Thing.T
            return {"when": datetime.date(2020, 1, 2), "obj": Thing.T, "nan": float("nan")}


    NUMBER = 42


    class NotAFlow:
        pass
    """
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_imports() -> Iterator[None]:
    """Loading a TARGET adds its folder to sys.path and its module to sys.modules."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs are stored in ./.plait/runs.db by default: keep that out of the repository."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_STORE", raising=False)


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "flows.py"
    path.write_text(FLOWS)
    return path


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def run_json(*args: str) -> dict[str, Any]:
    result = invoke("run", *args, "--json")
    assert result.stdout.count("\n") == 1, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


# -- run ----------------------------------------------------------------------------


def test_run_json_with_inputs(flows: Path) -> None:
    doc = run_json(
        f"{flows}:Greet",
        "--inputs-json",
        '{"name": "zed", "n": 100, "extra": [1, 2]}',
        "--input",
        "name=ann",
        "-i",
        "n=21",
        "-i",
        "flag=true",
    )
    assert doc["status"] == "completed"
    assert doc["flow"] == "Greet"
    assert doc["output"] == {"doubled": 42, "greeting": "HELLO ANN"}
    assert doc["state"]["name"] == "ann"
    assert doc["state"]["n"] == 21
    assert doc["state"]["flag"] is True
    assert doc["state"]["extra"] == [1, 2]
    assert doc["state"]["greeting"] == "hello ann"
    assert doc["state"]["id"] == doc["run_id"]
    assert doc["duration_s"] > 0
    assert doc["error"] is None
    assert [(s["step"], s["invocation"], s["status"]) for s in doc["steps"]] == [
        ("hello", 1, "completed"),
        ("shout", 1, "completed"),
    ]
    hello, shout = doc["steps"]
    assert 0 <= hello["start_ms"] <= shout["start_ms"]
    assert shout["start_ms"] >= hello["start_ms"] + hello["duration_ms"]


def test_json_serialises_any_output(flows: Path) -> None:
    doc = run_json(f"{flows}:Odd", "--store", "memory://")
    assert doc["output"] == {"when": "2020-01-02", "obj": "<Thing>", "nan": None}
    assert doc["state"]["thing"] == "<Thing>"


def test_run_prints_timeline_result_and_summary(flows: Path) -> None:
    result = invoke("run", f"{flows}:Greet", "-i", "name=ann", "-i", "n=1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Timeline" in out
    assert "hello" in out and "shout" in out
    assert "'HELLO ANN'" in out
    assert "✓ completed" in out
    assert "2 steps, 2 invocations" in " ".join(out.split())  # the line may wrap
    run_id = out.split("✓ completed  run ")[1].split()[0]
    assert len(run_id) >= 16


def test_quiet_prints_only_the_result(flows: Path) -> None:
    result = invoke("run", f"{flows}:Greet", "-q", "-i", "name=ann", "-i", "n=1")
    assert result.exit_code == 0
    assert result.stdout == "{'doubled': 2, 'greeting': 'HELLO ANN'}\n"


def test_parallel_steps_overlap_in_the_timeline(flows: Path) -> None:
    doc = run_json(f"{flows}:Pair")
    spans = {s["step"]: s for s in doc["steps"]}
    left, right = spans["left"], spans["right"]
    assert left["start_ms"] < right["start_ms"] + right["duration_ms"]
    assert right["start_ms"] < left["start_ms"] + left["duration_ms"]
    assert doc["output"] == "done"


def test_many_invocations_are_summarised(flows: Path) -> None:
    result = invoke("run", f"{flows}:Many")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "more …" in out
    assert "Per step" in out
    assert "52 invocations" in " ".join(out.split())  # the line may wrap
    assert out.count("tick") < 30  # not one row per invocation
    assert "50" in out.split("Result")[1]


def test_retries_show_as_retried_then_completed(flows: Path) -> None:
    doc = run_json(f"{flows}:Flaky")
    assert [(s["attempt"], s["status"]) for s in doc["steps"]] == [(1, "retried"), (2, "completed")]
    assert doc["output"] == "ok"


def test_targets_can_be_instances_workflows_modules_or_implicit(
    flows: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_json(f"{flows}:greeter", "-i", "name=x", "-i", "n=2")["output"]["doubled"] == 4
    assert run_json(f"{flows}:etl")["output"] == {"total": 6, "count": 3}
    monkeypatch.syspath_prepend(str(flows.parent))
    assert run_json("flows:Typed", "-i", "n=5")["output"] == 10
    single = flows.parent / "single.py"
    single.write_text(
        "from plait import Flow, start\nclass One(Flow):\n    @start()\n"
        "    def go(self):\n        return 'one'\n"
    )
    assert run_json(str(single))["output"] == "one"


def test_failed_step_exits_1_and_names_the_step(flows: Path) -> None:
    result = invoke("run", f"{flows}:Boom")
    assert result.exit_code == 1
    assert "Run failed in step 'explode'" in result.stderr
    assert "ValueError: kaboom" in result.stderr
    assert "Traceback" not in result.output
    assert "failed" in result.stdout  # the timeline still shows what ran


def test_failed_run_json_reports_the_error(flows: Path) -> None:
    result = invoke("run", f"{flows}:Boom", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["status"] == "failed"
    assert doc["error"]["step"] == "explode"
    assert doc["error"]["type"] == "StepError"
    assert [s["status"] for s in doc["steps"]] == ["completed", "failed"]


@pytest.mark.parametrize("where", ["command", "global"])
def test_debug_shows_the_traceback(flows: Path, where: str) -> None:
    args = (
        ["run", f"{flows}:Boom", "--debug"]
        if where == "command"
        else ["--debug", "run", f"{flows}:Boom"]
    )
    result = invoke(*args)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raise ValueError("kaboom")' in result.stderr
    assert "Run failed in step 'explode'" in result.stderr


def test_bad_inputs_are_reported_without_a_traceback(flows: Path) -> None:
    result = invoke("run", f"{flows}:Typed", "-i", "n=bogus")
    assert result.exit_code == 1
    assert "InputError" in result.stderr and "bogus" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [["-i", "novalue"], ["--inputs-json", "[1, 2]"], ["--inputs-json", "{oops"]],
)
def test_malformed_inputs_are_usage_errors(flows: Path, args: list[str]) -> None:
    result = invoke("run", f"{flows}:Greet", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# -- targets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{dir}/missing.py:Greet", "no such file"),
        ("{flows}:Nope", "has no attribute 'Nope'; it defines: Boom,"),
        ("{flows}:NUMBER", "is int, not a flow"),
        ("{flows}:NotAFlow", "is the class NotAFlow, not a flow"),
        ("{flows}", "defines several flows"),
        ("no_such_module_xyz:Flow", "cannot find module 'no_such_module_xyz'"),
        ("{broken}:X", "importing"),
    ],
)
@pytest.mark.parametrize("command", ["run", "plot", "validate"])
def test_bad_targets_give_one_clear_message(
    flows: Path, command: str, target: str, message: str
) -> None:
    broken = flows.parent / "broken.py"
    broken.write_text("def oops(:\n")
    spec = target.format(dir=flows.parent, flows=flows, broken=broken)
    result = invoke(command, spec)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "TargetError" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


# -- plot and validate -----------------------------------------------------------------


def test_a_flow_class_that_needs_arguments(flows: Path) -> None:
    result = invoke("run", f"{flows}:NeedsArgs")
    assert result.exit_code == 1
    assert "cannot create NeedsArgs(): TypeError" in result.stderr
    assert "Traceback" not in result.output
    assert invoke("validate", f"{flows}:NeedsArgs").exit_code == 0  # no instance needed


def test_plot_mermaid(flows: Path) -> None:
    result = invoke("plot", f"{flows}:Greet")
    assert result.exit_code == 0
    assert result.stdout.startswith("flowchart TD\n")
    assert "s_hello --> s_shout" in result.stdout


def test_plot_html_to_a_file_and_to_stdout(flows: Path, tmp_path: Path) -> None:
    page = tmp_path / "out" / "plan.html"
    page.parent.mkdir()
    result = invoke("plot", f"{flows}:Many", "--format", "html", "-o", str(page))
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert text.startswith("<!doctype html>")
    # the page carries the Mermaid source its script draws (escaped for HTML)
    assert "s_tick{&quot;tick&quot;}" in text and "|finished| s_end" in text
    assert str(page) in result.stderr
    assert invoke("plot", f"{flows}:etl", "-f", "html").stdout.startswith("<!doctype html>")
    assert invoke("plot", f"{flows}:etl", "-f", "png").exit_code == 2


def test_validate_ok(flows: Path) -> None:
    result = invoke("validate", f"{flows}:Many")
    assert result.exit_code == 0
    assert "flow 'Many' is valid: 3 steps" in result.stdout
    assert "start steps: begin" in result.stdout
    assert "router tick → again, finished" in result.stdout


def test_validate_lists_every_problem(flows: Path) -> None:
    result = invoke("validate", f"{flows}:Invalid", "--strict")
    assert result.exit_code == 1
    sys.path.insert(0, str(flows.parent))
    from flows import Invalid  # type: ignore[import-not-found]

    with pytest.raises(plait.PlanError) as caught:
        plait.compile(Invalid, strict=True)
    assert len(caught.value.problems) >= 2
    for problem in caught.value.problems:
        assert f"• {problem}" in result.stderr
    assert "Traceback" not in result.output


def test_validate_shows_warnings_and_passes_without_strict(flows: Path) -> None:
    """Listening to names nothing produces is a warning (CrewAI runs such flows)."""
    result = invoke("validate", f"{flows}:Invalid")
    assert result.exit_code == 0, result.output
    assert "flow 'Invalid' is valid: 3 steps" in result.stdout
    assert "2 warnings" in result.stdout
    assert "'b' listens to 'nope'" in result.stdout and "'c' listens to 'missing'" in result.stdout
    assert "compiles with" not in result.stderr  # listed once, not logged as well


def test_a_workflow_problem_is_titled_workflow(tmp_path: Path) -> None:
    path = tmp_path / "cyclic.py"
    path.write_text(
        textwrap.dedent(
            """
            from plait import Workflow

            wf = Workflow("etl")

            @wf.task(depends_on=["b"])
            def a(b):
                return 1

            @wf.task(depends_on=["a"])
            def b(a):
                return 2
            """
        )
    )
    result = invoke("validate", f"{path}:wf")
    assert result.exit_code == 1
    assert "Invalid: workflow 'etl' has 1 problem:" in result.stderr
    assert "dependency cycle" in result.stderr


# -- errors that are not Exceptions --------------------------------------------------


class Stop(BaseException):
    pass


@pytest.mark.parametrize(
    "exc", [SystemExit("bye"), Stop("custom"), asyncio.CancelledError(), GeneratorExit()]
)
def test_base_exceptions_are_one_message_without_a_traceback(
    exc: BaseException, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as info, reported(debug=False):
        raise exc
    assert info.value.exit_code == 1
    err = capsys.readouterr().err
    assert f"Unexpected error: {type(exc).__name__}" in err
    assert "--debug" in err and "Traceback" not in err


def test_base_exceptions_show_a_traceback_with_debug(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit), reported(debug=True):
        raise Stop("custom")
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_ctrl_c_is_interrupted_and_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as info, reported(debug=False):
        raise KeyboardInterrupt
    assert info.value.exit_code == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def test_typer_exits_pass_through() -> None:
    with pytest.raises(typer.Exit) as info, reported(debug=False):
        raise typer.Exit(3)
    assert info.value.exit_code == 3


# -- the real entry point ------------------------------------------------------------


def test_console_script_runs(flows: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "plait.cli",
            "run",
            f"{flows}:Greet",
            "--json",
            "-i",
            "name=a",
            "-i",
            "n=3",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"]["doubled"] == 6
    version = subprocess.run(
        [sys.executable, "-m", "plait.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert version.stdout.strip() == f"plait {plait.__version__}"


def test_import_plait_does_not_load_the_cli() -> None:
    code = "import sys, plait; print(sorted(m for m in ('typer', 'rich', 'click', 'plait.cli') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
