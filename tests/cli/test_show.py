"""``plait runs show|list`` tell the truth about a run: a run whose process died is
stale in both, a step still running in a live process is running, a store that does not
exist is an error (and is not created), and tables are not cut when piped."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from plait.cli._app import app
from plait.engine import open_store, record_doc, run_status, spans
from plait.runtime import RunRecord, RunStarted, StepCompleted, StepStarted
from plait.runtime._lease import new_owner
from tests.engine.test_leases import crash_run

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _live_run(url: str) -> str:
    """A run stored as running, its lease held by this (live) process, whose step
    ``slow`` started and has not ended."""
    now = time.time()
    events = [
        RunStarted(run_id="live1", seq=1, ts=now - 2, flow="F"),
        StepStarted(run_id="live1", seq=2, ts=now - 2, step="fast", invocation=1),
        StepCompleted(run_id="live1", seq=3, ts=now - 1, step="fast", invocation=1, duration=1),
        StepStarted(run_id="live1", seq=4, ts=now - 1, step="slow", invocation=1),
    ]

    async def go() -> None:
        store = await open_store(url)
        try:
            record = RunRecord(run_id="live1", flow="F", created_at=now, updated_at=now)
            await store.create_run(record)
            await store.append("live1", events)
            assert await store.acquire("live1", new_owner(), 300.0)
        finally:
            await store.close()

    asyncio.run(go())
    return "live1"


def test_a_dead_run_is_stale_in_show_as_in_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    run_id, _ = crash_run(tmp_path, url)
    listed = invoke("runs", "list", "--store", url)
    assert "running (stale)" in listed.stdout

    shown = invoke("runs", "show", run_id, "--store", url)
    assert shown.exit_code == 0, shown.output
    assert f"{run_id}  Leasy  running (stale)" in shown.stdout
    assert "cancelled" not in shown.stdout
    assert f"go on with: plait runs resume {run_id} --store" in shown.stdout

    doc = json.loads(invoke("runs", "show", run_id, "--store", url, "--json").stdout)
    assert doc["status"] == "running (stale)" and doc["record"]["stale"] is True
    assert "cancelled" not in {s["status"] for s in doc["steps"]}
    (listed_doc,) = json.loads(invoke("runs", "list", "--store", url, "--json").stdout)
    assert listed_doc["stale"] is True


def test_a_step_running_in_a_live_process_is_running(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    run_id = _live_run(url)
    shown = invoke("runs", "show", run_id, "--store", url)
    assert shown.exit_code == 0, shown.output
    assert f"{run_id}  F  running\n" in shown.stdout
    assert "cancelled" not in shown.stdout and "interrupted" not in shown.stdout
    row = next(line for line in shown.stdout.splitlines() if "slow" in line)
    assert "running" in row
    assert "plait runs resume" not in shown.stdout  # a live run is not resumed
    doc = json.loads(invoke("runs", "show", run_id, "--store", url, "--json").stdout)
    assert doc["status"] == "running" and doc["record"]["stale"] is False
    assert [s["status"] for s in doc["steps"]] == ["completed", "running"]


def test_unended_spans_say_why() -> None:
    events = [
        RunStarted(run_id="r", seq=1, ts=1.0, flow="F"),
        StepStarted(run_id="r", seq=2, ts=1.0, step="s", invocation=1),
    ]
    assert [s.status for s in spans(events, live=True)] == ["running"]
    assert [s.status for s in spans(events)] == ["interrupted"]


def test_run_status_and_record_doc() -> None:
    now = time.time()
    record = RunRecord(run_id="r", flow="F", created_at=now, updated_at=now, status="running")
    assert run_status(record, now) == "running (stale)"  # no owner
    assert record_doc(record, now)["stale"] is True
    done = RunRecord(run_id="d", flow="F", created_at=now, updated_at=now, status="completed")
    assert run_status(done, now) == "completed" and record_doc(done, now)["stale"] is False


@pytest.mark.parametrize(
    "command", [["list"], ["show", "x"], ["resume", "x"], ["checkpoints", "x"], ["state", "x", "1"]]
)
def test_reading_a_store_that_does_not_exist_is_an_error(
    command: list[str], tmp_path: Path
) -> None:
    result = invoke("runs", *command, "--store", "sqlite:///nope/x.db")
    assert result.exit_code == 1
    assert "no such store: sqlite:///nope/x.db" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "nope").exists()

    default = invoke("runs", *command)
    assert default.exit_code == 1 and "no such store" in default.stderr
    assert not (tmp_path / ".plait").exists()


def test_plait_run_still_creates_its_store(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text(
        "from plait import Flow, start\nclass One(Flow):\n    @start()\n"
        "    def go(self):\n        return 1\n"
    )
    assert invoke("run", "one.py", "--store", "sqlite:///new/runs.db").exit_code == 0
    assert (tmp_path / "new" / "runs.db").is_file()
    assert invoke("runs", "list", "--store", "sqlite:///new/runs.db").exit_code == 0


def test_tables_are_not_cut_when_piped(tmp_path: Path) -> None:
    name = "AVeryLongFlowNameThatWouldNotFitInEightyColumns"
    (tmp_path / "long.py").write_text(
        textwrap.dedent(
            f"""
            from plait import Flow, start


            class Long(Flow):
                name = "{name}"

                @start()
                def go(self):
                    return "a result " * 20
            """
        )
    )
    ran = invoke("run", "long.py")
    assert ran.exit_code == 0, ran.output
    listed = invoke("runs", "list")
    assert listed.exit_code == 0, listed.output
    assert name in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) > 80
    assert "a result " * 20 in ran.stdout  # on one line
