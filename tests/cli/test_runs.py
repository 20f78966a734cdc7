"""``plait runs list|show|resume`` on runs stored by ``plait run`` (SQLite in ./.plait)."""

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

    MARKER = Path(__file__).with_name("fail.marker")


    class Flaky(Flow):
        @start()
        def first(self):
            self.state["seen"] = 1
            return 20

        @listen(first)
        def second(self, value):
            if MARKER.exists():
                raise RuntimeError("marker present\\nsecond line")
            return value + 22
    """
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture
def failed_run(tmp_path: Path) -> str:
    (tmp_path / "flaky.py").write_text(FLOW)
    (tmp_path / "fail.marker").write_text("")
    result = invoke("run", "flaky.py", "--json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "failed"
    assert doc["store"] == "sqlite:///.plait/runs.db"
    assert (tmp_path / ".plait" / "runs.db").is_file()
    run_id: str = doc["run_id"]
    return run_id


def test_fail_list_show_resume(failed_run: str, tmp_path: Path) -> None:
    listed = invoke("runs", "list")
    assert listed.exit_code == 0, listed.output
    assert failed_run in listed.stdout
    assert "Flaky" in listed.stdout and "failed" in listed.stdout

    shown = invoke("runs", "show", failed_run)
    assert shown.exit_code == 0, shown.output
    assert "Timeline" in shown.stdout
    assert "second" in shown.stdout and "first" in shown.stdout
    assert "marker present" in shown.stdout
    assert f"plait runs resume {failed_run}" in shown.stdout

    (tmp_path / "fail.marker").unlink()
    resumed = invoke("runs", "resume", failed_run)
    assert resumed.exit_code == 0, resumed.output
    assert "42" in resumed.stdout
    assert "✓ completed" in resumed.stdout
    assert "sqlite:///.plait/runs.db" in resumed.stdout

    done = invoke("runs", "list", "--status", "completed")
    assert done.exit_code == 0 and failed_run in done.stdout
    assert failed_run not in invoke("runs", "list", "--status", "failed").stdout

    again = invoke("runs", "resume", failed_run)
    assert again.exit_code == 1
    assert "already completed" in again.stderr
    assert "Traceback" not in again.output


def test_a_failed_run_says_how_to_resume(tmp_path: Path) -> None:
    (tmp_path / "flaky.py").write_text(FLOW)
    (tmp_path / "fail.marker").write_text("")
    result = invoke("run", "flaky.py:Flaky")
    assert result.exit_code == 1
    assert "plait runs resume " in result.stderr


def test_json_outputs_parse(failed_run: str, tmp_path: Path) -> None:
    runs = json.loads(invoke("runs", "list", "--json").stdout)
    assert [r["run_id"] for r in runs] == [failed_run]
    assert runs[0]["status"] == "failed" and "marker present" in runs[0]["error"]

    shown = json.loads(invoke("runs", "show", failed_run, "--json").stdout)
    assert shown["record"]["run_id"] == failed_run
    assert shown["events"][0]["type"] == "RunStarted"
    assert shown["events"][-1]["type"] == "RunFailed"
    assert shown["output"] is None

    (tmp_path / "fail.marker").unlink()
    result = invoke("runs", "resume", failed_run, "flaky.py:Flaky", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "completed" and doc["output"] == 42
    assert [s["step"] for s in doc["steps"]] == ["second"]  # `first` did not run again

    shown = json.loads(invoke("runs", "show", failed_run, "--json").stdout)
    assert shown["record"]["status"] == "completed" and shown["output"] == 42


def test_list_filters_and_limit(tmp_path: Path) -> None:
    (tmp_path / "flaky.py").write_text(FLOW)
    for _ in range(3):
        assert invoke("run", "flaky.py").exit_code == 0
    assert len(json.loads(invoke("runs", "list", "--json").stdout)) == 3
    assert len(json.loads(invoke("runs", "list", "--json", "--limit", "2").stdout)) == 2
    assert json.loads(invoke("runs", "list", "--json", "--flow", "Other").stdout) == []
    empty = invoke("runs", "list", "--status", "failed")
    assert empty.exit_code == 0 and "no runs" in empty.stdout


@pytest.mark.parametrize("command", ["show", "resume"])
def test_unknown_run_is_one_clear_message(command: str, tmp_path: Path) -> None:
    (tmp_path / "flaky.py").write_text(FLOW)
    assert invoke("run", "flaky.py").exit_code == 0  # the store exists
    result = invoke("runs", command, "nope-123")
    assert result.exit_code == 1
    assert "no run nope-123" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["list"], ["show", "x"], ["resume", "x"]])
def test_unknown_store_scheme(command: list[str]) -> None:
    result = invoke("runs", *command, "--store", "bogus://where")
    assert result.exit_code == 1
    assert "unknown store URL" in result.stderr
    assert "Traceback" not in result.output


def test_unreachable_store() -> None:
    result = invoke("runs", "list", "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.strip()


def test_env_store_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "flaky.py").write_text(FLOW)
    monkeypatch.setenv("PLAIT_STORE", "sqlite:///elsewhere.db")
    result = invoke("run", "flaky.py")
    assert result.exit_code == 0, result.output
    assert "sqlite:///elsewhere.db" in result.stdout
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / ".plait").exists()
    assert len(json.loads(invoke("runs", "list", "--json").stdout)) == 1


def test_a_workflow_run_resumes_with_the_command_its_failure_prints(tmp_path: Path) -> None:
    (tmp_path / "wf.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from plait import Workflow

            wf = Workflow("wf")

            @wf.task()
            def only():
                if Path("fail.marker").exists():
                    raise RuntimeError("nope")
                return 1
            """
        )
    )
    (tmp_path / "fail.marker").write_text("")
    failed = invoke("run", "wf.py")
    assert failed.exit_code == 1
    hint = failed.stderr.rpartition("go on with: ")[2].split()
    assert hint[:3] == ["plait", "runs", "resume"] and len(hint) == 4, failed.stderr
    (tmp_path / "fail.marker").unlink()
    resumed = invoke(*hint[1:])
    assert resumed.exit_code == 0, resumed.output
    assert "✓ completed" in resumed.stdout


def test_a_workflow_run_stores_where_its_code_is(tmp_path: Path) -> None:
    (tmp_path / "wf.py").write_text(
        "from plait import Workflow\nwf = Workflow('wf')\n@wf.task()\ndef only():\n    return 1\n"
    )
    assert invoke("run", "wf.py").exit_code == 0
    (run,) = json.loads(invoke("runs", "list", "--json").stdout)
    assert run["plan"]["ref"] == f"{(tmp_path / 'wf.py').resolve()}:wf"


def _seed(path: Path) -> None:
    """Runs in a SQLite store at ``path``: old and new finished runs of two flows, and an
    old running one."""
    import asyncio
    import time

    from plait.runtime import RunRecord
    from plait.stores import SqliteStore

    now = time.time()
    day = 86400.0

    async def go() -> None:
        store = SqliteStore(path)
        try:
            for run_id, flow, status, age in [
                ("old-a1", "A", "completed", 10 * day),
                ("old-a2", "A", "failed", 9 * day),
                ("old-b1", "B", "cancelled", 8 * day),
                ("new-a3", "A", "completed", 60.0),
                ("old-run", "A", "running", 30 * day),
            ]:
                at = now - age
                record = RunRecord(
                    run_id=run_id, flow=flow, status=status, created_at=at, updated_at=at
                )
                await store.create_run(record)
        finally:
            await store.close()

    asyncio.run(go())


def _listed() -> list[str]:
    result = invoke("runs", "list", "--json", "--store", "sqlite:///runs.db")
    assert result.exit_code == 0, result.output
    return sorted(r["run_id"] for r in json.loads(result.stdout))


def test_prune_older_than_with_yes(tmp_path: Path) -> None:
    _seed(tmp_path / "runs.db")
    result = invoke("runs", "prune", "--store", "sqlite:///runs.db", "--older-than", "7d", "--yes")
    assert result.exit_code == 0, result.output
    assert "deleted 3 runs" in result.stdout
    assert _listed() == ["new-a3", "old-run"]


def test_prune_keep_latest_and_flow(tmp_path: Path) -> None:
    _seed(tmp_path / "runs.db")
    args = ["runs", "prune", "--store", "sqlite:///runs.db", "--yes"]
    result = invoke(*args, "--keep-latest", "1", "--flow", "A")
    assert result.exit_code == 0, result.output
    assert "deleted 2 runs" in result.stdout  # old-a1, old-a2; new-a3 kept
    assert _listed() == ["new-a3", "old-b1", "old-run"]
    result = invoke(*args, "--keep-latest", "0", "--older-than", "12h")
    assert "deleted 1 run" in result.stdout  # old-b1
    assert _listed() == ["new-a3", "old-run"]


def test_prune_asks_first(tmp_path: Path) -> None:
    _seed(tmp_path / "runs.db")
    args = ["runs", "prune", "--store", "sqlite:///runs.db", "--older-than", "30m"]
    declined = runner.invoke(app, args, input="n\n")
    assert declined.exit_code == 1
    assert "delete 3 runs" in declined.output and "nothing deleted" in declined.output
    assert len(_listed()) == 5
    accepted = runner.invoke(app, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "delete 3 runs" in accepted.output and "deleted 3 runs" in accepted.output
    assert _listed() == ["new-a3", "old-run"]
    nothing = runner.invoke(app, args)
    assert nothing.exit_code == 0 and "no runs to prune" in nothing.stdout


@pytest.mark.parametrize("age", ["7", "7 days", "d", "-3h", "1y"])
def test_prune_bad_duration(tmp_path: Path, age: str) -> None:
    _seed(tmp_path / "runs.db")
    result = invoke("runs", "prune", "--store", "sqlite:///runs.db", "--older-than", age, "--yes")
    assert result.exit_code == 2
    assert "not a duration" in result.output and "7d" in result.output
    assert "Traceback" not in result.output
    assert len(_listed()) == 5


def test_prune_needs_a_limit(tmp_path: Path) -> None:
    _seed(tmp_path / "runs.db")
    result = invoke("runs", "prune", "--store", "sqlite:///runs.db", "--yes")
    assert result.exit_code == 2
    assert "--older-than" in result.output and "--keep-latest" in result.output
    assert len(_listed()) == 5


def test_parse_duration() -> None:
    from plait.cli._runs import parse_duration

    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("12h") == 12 * 3600
    assert parse_duration("30m") == 1800
    assert parse_duration("90s") == 90
    assert parse_duration("1.5h") == 5400
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_list_filters_by_creation_time(failed_run: str) -> None:
    recent = invoke("runs", "list", "--since", "1h", "--json")
    assert recent.exit_code == 0, recent.output
    assert [r["run_id"] for r in json.loads(recent.stdout)] == [failed_run]
    old = invoke("runs", "list", "--before", "2000-01-01", "--json")
    assert json.loads(old.stdout) == []
    future = invoke("runs", "list", "--since", "2999-01-01T00:00", "--json")
    assert json.loads(future.stdout) == []
    bad = invoke("runs", "list", "--since", "yesterday")
    assert bad.exit_code == 2
    assert "neither a duration" in bad.output


# -- a store URL's password is never shown ---------------------------------------------

ASKING = textwrap.dedent(
    """
    from plait import Flow, start


    class Asking(Flow):
        @start()
        async def approve(self):
            return await self.ask("ok?", schema=bool)
    """
)


@pytest.fixture
def secret_store(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL store whose URL holds a password (the loopback server trusts
    every login, so any password works)."""
    from tests.engine.conftest import fresh_store_url

    for url in fresh_store_url("postgres", tmp_path):
        yield url.replace("postgres@", "postgres:hunter2@")


@pytest.mark.postgres
@pytest.mark.parametrize("given", ["--store", "PLAIT_STORE"])
def test_a_store_password_is_never_shown(
    secret_store: str, given: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "flaky.py").write_text(FLOW)
    (tmp_path / "asking.py").write_text(ASKING)
    (tmp_path / "fail.marker").write_text("")
    store: list[str] = []
    if given == "--store":
        store = ["--store", secret_store]
    else:
        monkeypatch.setenv("PLAIT_STORE", secret_store)

    def shown(*args: str, code: int = 0) -> str:
        result = invoke(*args, *store)
        assert result.exit_code == code, result.output
        assert "hunter2" not in result.output
        return " ".join(result.output.split())

    assert "stored in postgresql://postgres:***@127.0.0.1" in shown("run", "flaky.py", code=1)
    doc = json.loads(invoke("run", "flaky.py", "--json", *store).stdout)
    assert doc["store"] == secret_store.replace("hunter2", "***")
    (tmp_path / "fail.marker").unlink()
    assert "stored in postgresql://postgres:***@" in shown("run", "flaky.py")
    assert "stored in postgresql://postgres:***@" in shown("run", "asking.py", code=3)
    assert "Runs in postgresql://postgres:***@" in shown("runs", "list")
    assert "postgresql://postgres:***@" in shown("runs", "show", doc["run_id"])
    assert "no run nope in postgresql://postgres:***@" in shown("runs", "show", "nope", code=1)
    assert "no runs to prune" in shown("runs", "prune", "--older-than", "999d")
    recovered = shown("worker", "--once", "--allow", str(tmp_path))
    assert "nothing to recover in postgresql://postgres:***@" in recovered


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_an_unreachable_store_s_password_is_not_shown(debug: list[str]) -> None:
    url = "postgresql://postgres:hunter2@127.0.0.1:1/test"
    for args in (["runs", "list"], ["runs", "show", "x"], ["worker", "--once"]):
        result = invoke(*args, "--store", url, *debug)
        assert result.exit_code == 1
        assert "hunter2" not in result.output


def test_a_corrupted_run_is_listed_as_corrupt_beside_the_others(
    failed_run: str, tmp_path: Path
) -> None:
    import sqlite3

    first = failed_run
    (tmp_path / "fail.marker").unlink()
    good = json.loads(invoke("run", "flaky.py", "--json").stdout)["run_id"]
    with sqlite3.connect(tmp_path / ".plait" / "runs.db") as conn:
        conn.execute("UPDATE runs SET created_at = 'yesterday' WHERE run_id = ?", (first,))
    listed = invoke("runs", "list")
    assert listed.exit_code == 0, listed.output
    assert first in listed.stdout and good in listed.stdout
    assert "corrupt" in listed.stdout
    runs = {r["run_id"]: r for r in json.loads(invoke("runs", "list", "--json").stdout)}
    assert runs[first]["status"] == "corrupt" and runs[good]["status"] == "completed"
    assert "created_at" in runs[first]["error"]
    shown = invoke("runs", "show", first)
    assert shown.exit_code != 0 and first in shown.output and "created_at" in shown.output
