"""``plait worker``: finish runs whose process died, and waiting runs that were answered,
from the folder the flows' code imports from."""

from __future__ import annotations

import json
import os
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

    here = ["--allow", str(tmp_path)]  # the worker loads a stored file only when allowed
    nothing = invoke("worker", "--store", store_url, "--once", *here)
    assert nothing.exit_code == 0, nothing.output
    assert "nothing to recover" in nothing.stdout

    told = invoke(
        "runs", "respond", answered, "--value", "true", "--no-resume", "--store", store_url
    )
    assert told.exit_code == 0, told.output
    assert get_run(store_url, answered).status == "waiting"

    result = invoke("worker", "--store", store_url, "--once", *here)
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


# -- code is loaded from modules and allowed paths, never from a path in the store -------


def _set_stored_ref(db: Path, run_id: str, ref: str) -> None:
    """What anyone who can write one row of the store can do."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE runs SET plan = json_set(plan, '$.ref', ?) WHERE run_id = ?", (ref, run_id)
        )
    conn.close()


PAYLOAD = "from pathlib import Path\nPath(__file__).with_name('PAYLOAD-RAN').write_text('')\n"


@pytest.fixture
def tampered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, Path]:
    """A killed run whose stored plan someone pointed at a file elsewhere; the store's
    URL, the run id and that folder. The file is a working flow that leaves a mark."""
    code, elsewhere = tmp_path / "code", tmp_path / "elsewhere"
    code.mkdir()
    elsewhere.mkdir()
    url = f"sqlite:///{tmp_path}/runs.db"
    run_id, _ = crash_run(code, url)
    (elsewhere / "payload.py").write_text(PAYLOAD + (code / "leasy.py").read_text())
    _set_stored_ref(tmp_path / "runs.db", run_id, f"{elsewhere}/payload.py:Leasy")
    monkeypatch.chdir(code)
    monkeypatch.delenv("PLAIT_ALLOW_PATHS", raising=False)
    return url, run_id, elsewhere


def test_the_worker_does_not_load_a_file_a_store_row_names(tampered: tuple[str, str, Path]) -> None:
    url, run_id, elsewhere = tampered
    result = invoke("worker", "--store", url, "--once")
    assert result.exit_code == 1
    assert not (elsewhere / "PAYLOAD-RAN").exists()
    assert f"✗ run {run_id}" in result.stdout and "not on the allow-list" in result.stdout
    assert "--allow" in result.stdout and "PLAIT_ALLOW_PATHS" in result.stdout
    assert "Traceback" not in result.output
    assert get_run(url, run_id).status == "running"


@pytest.mark.parametrize("how", ["option", "environment", "the file"])
def test_the_worker_loads_a_stored_path_the_operator_allowed(
    tampered: tuple[str, str, Path], how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, run_id, elsewhere = tampered
    args = ["worker", "--store", url, "--once"]
    if how == "option":
        args += ["--allow", str(elsewhere)]
    elif how == "environment":
        monkeypatch.setenv("PLAIT_ALLOW_PATHS", f"/nowhere{os.pathsep}{elsewhere}")
    else:
        args += ["--allow", str(elsewhere / "payload.py")]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert f"✓ run {run_id} recovered and completed" in result.stdout
    assert (elsewhere / "PAYLOAD-RAN").exists()


@pytest.mark.parametrize(
    "ref",
    ["../elsewhere/payload.py:Leasy", "{elsewhere}/../elsewhere/payload.py:Leasy", "builtins:exit"],
)
def test_other_stored_references_are_refused_too(
    tampered: tuple[str, str, Path], ref: str, tmp_path: Path
) -> None:
    url, run_id, elsewhere = tampered
    _set_stored_ref(tmp_path / "runs.db", run_id, ref.format(elsewhere=elsewhere))
    result = invoke("worker", "--store", url, "--once", "--allow", str(tmp_path / "code"))
    assert result.exit_code == 1
    assert f"✗ run {run_id}" in result.stdout
    assert not (elsewhere / "PAYLOAD-RAN").exists()
    assert get_run(url, run_id).status == "running"


def test_runs_resume_refuses_a_stored_path_but_not_a_typed_target(
    tampered: tuple[str, str, Path],
) -> None:
    url, run_id, elsewhere = tampered
    refused = invoke("runs", "resume", run_id, "--store", url)
    assert refused.exit_code == 1
    assert "not on the allow-list" in refused.stderr
    assert not (elsewhere / "PAYLOAD-RAN").exists()

    typed = invoke("runs", "resume", run_id, f"{elsewhere}/payload.py:Leasy", "--store", url)
    assert typed.exit_code == 0, typed.output
    assert (elsewhere / "PAYLOAD-RAN").exists()


def test_a_module_not_on_the_import_path_is_found_in_an_allowed_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "elsewhere").mkdir()
    url = f"sqlite:///{tmp_path}/runs.db"
    run_id, _ = crash_run(tmp_path / "code", url)  # stored as leasy:Leasy
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = invoke("worker", "--store", url, "--once", "--allow", str(tmp_path / "code"))
    assert result.exit_code == 0, result.output
    assert f"✓ run {run_id} recovered and completed" in result.stdout


# -- one bad run does not stop the others ----------------------------------------------


def test_worker_once_reports_a_run_that_cannot_go_on_and_recovers_the_others(
    tmp_path: Path,
) -> None:
    import sqlite3

    from tests.engine.test_leases import crash_in

    url = f"sqlite:///{tmp_path}/runs.db"
    bad = crash_in(tmp_path, url, "other")
    good = crash_in(tmp_path, url, "leasy")
    with sqlite3.connect(tmp_path / "runs.db") as conn:  # an output no codec can read
        conn.execute(
            "UPDATE events SET body = replace(body, '\"output\":1', "
            '\'"output":{"$decimal":"not a number"}\') WHERE run_id = ?',
            (bad,),
        )
    conn.close()

    result = invoke("worker", "--store", url, "--once")
    assert result.exit_code == 1
    assert f"✓ run {good} recovered and completed" in result.stdout
    assert f"✗ run {bad}" in result.stdout
    assert "Unexpected error" not in result.output and "Traceback" not in result.output
    assert get_run(url, good).status == "completed"


# -- every kind of run is recovered without naming its code ----------------------------


@pytest.mark.parametrize("which", ["flow", "workflow"])
def test_runs_of_scripts_and_workflows_are_recovered_and_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    from tests.engine.test_loader import _crash_script

    url = f"sqlite:///{tmp_path}/code/runs.db"
    record = _crash_script(tmp_path / "code", which)  # python script.py, killed mid-run
    monkeypatch.chdir(tmp_path / "code")
    # unattended, the worker loads no file of its folder that the operator did not allow
    refused = invoke("worker", "--store", url, "--once")
    assert refused.exit_code == 1
    assert "not on the allow-list" in refused.stdout and "--allow" in refused.stdout
    result = invoke("worker", "--store", url, "--once", "--allow", ".")
    assert result.exit_code == 0, result.output
    assert f"✓ run {record.run_id} recovered and completed" in result.stdout

    again = _crash_script(tmp_path / "again", which)
    monkeypatch.chdir(tmp_path / "again")
    resumed = invoke(
        "runs", "resume", again.run_id, "--store", f"sqlite:///{tmp_path}/again/runs.db"
    )
    assert resumed.exit_code == 0, resumed.output
    assert "✓ completed" in resumed.stdout


def test_a_script_elsewhere_is_recovered_only_when_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.engine.test_loader import _crash_script

    url = f"sqlite:///{tmp_path}/code/runs.db"
    record = _crash_script(tmp_path / "code", "workflow")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    refused = invoke("worker", "--store", url, "--once")
    assert refused.exit_code == 1
    assert "not on the allow-list" in refused.stdout
    shown = invoke("runs", "show", record.run_id, "--store", url)
    assert f"plait runs resume {record.run_id} --allow {tmp_path / 'code'}" in shown.stdout
    allowed = invoke("worker", "--store", url, "--once", "--allow", str(tmp_path / "code"))
    assert allowed.exit_code == 0, allowed.output
    assert f"✓ run {record.run_id} recovered and completed" in allowed.stdout
