"""``plait worker``: finish runs whose process died, and waiting runs that were answered,
from the folder the flows' code imports from."""

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
from tests.engine.conftest import fresh_store_url
from tests.engine.test_leases import crash_run, get_run, ran, rerun

runner = CliRunner()

ASKING = textwrap.dedent(
    """
    from plait import Flow, listen, start


    class Asking(Flow):
        @start()
        def draft(self):
            return "v1"

        @listen(draft)
        async def approve(self, draft):
            ok = await self.ask("ok?", schema=bool)
            return f"{draft} approved={ok}"
    """
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    monkeypatch.delenv("PLAIT_LEASE_TTL", raising=False)
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_store_url(request.param, tmp_path)


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_worker_once_finishes_a_killed_run(tmp_path: Path, store_url: str) -> None:
    run_id, _ = crash_run(tmp_path, store_url)
    before, todo = len(ran(tmp_path)), rerun(store_url, run_id)

    result = invoke("worker", "--store", store_url, "--once")
    assert result.exit_code == 0, result.output
    assert f"✓ run {run_id} recovered and completed" in result.stdout
    assert ran(tmp_path)[before:] == todo  # steps stored as completed did not run again
    record = get_run(store_url, run_id)
    assert (record.status, record.owner) == ("completed", "")

    again = invoke("worker", "--store", store_url, "--once")
    assert again.exit_code == 0, again.output
    assert "nothing to recover" in again.stdout and run_id not in again.stdout
    assert len(ran(tmp_path)) == before + len(todo)


def test_worker_once_fails_where_the_flow_does_not_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    (tmp_path / "code").mkdir()
    run_id, dead = crash_run(tmp_path / "code", url)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    result = invoke("worker", "--store", url, "--once")
    assert result.exit_code == 1
    assert f"✗ run {run_id}" in result.stdout and "leasy" in result.stdout
    assert "Traceback" not in result.output
    record = get_run(url, run_id)
    assert (record.status, record.owner) == ("running", dead)  # left for a worker that can

    monkeypatch.chdir(tmp_path / "code")
    done = invoke("worker", "--store", url, "--once")
    assert done.exit_code == 0, done.output
    assert f"✓ run {run_id} recovered and completed" in done.stdout


def test_worker_once_finishes_an_answered_run_and_leaves_an_unanswered_one(
    tmp_path: Path, store_url: str
) -> None:
    (tmp_path / "asking.py").write_text(ASKING)
    ids = []
    for _ in range(2):
        started = invoke("run", "asking.py", "--store", store_url, "--json")
        assert started.exit_code == 3, started.output
        doc = json.loads(started.stdout)
        assert doc["status"] == "waiting"
        ids.append(doc["run_id"])
    answered, unanswered = ids

    nothing = invoke("worker", "--store", store_url, "--once")
    assert nothing.exit_code == 0, nothing.output
    assert "nothing to recover" in nothing.stdout

    told = invoke(
        "runs", "respond", answered, "--value", "true", "--no-resume", "--store", store_url
    )
    assert told.exit_code == 0, told.output
    assert get_run(store_url, answered).status == "waiting"

    result = invoke("worker", "--store", store_url, "--once")
    assert result.exit_code == 0, result.output
    assert f"✓ run {answered} recovered and completed" in result.stdout
    assert unanswered not in result.stdout
    assert get_run(store_url, answered).status == "completed"
    record = get_run(store_url, unanswered)
    assert (record.status, record.owner) == ("waiting", "")


def test_worker_with_an_empty_store(tmp_path: Path) -> None:
    result = invoke("worker", "--store", "sqlite:///runs.db", "--once")
    assert result.exit_code == 0, result.output
    assert "nothing to recover in sqlite:///runs.db" in result.stdout


def test_worker_refuses_a_tiny_interval() -> None:
    result = invoke("worker", "--interval", "0")
    assert result.exit_code == 2
    assert "--interval" in result.output
