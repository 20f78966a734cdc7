"""``plait run`` on a flow that asks a person, then ``plait runs respond``."""

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
    from pydantic import BaseModel
    from plait import Flow, listen, start

    class Verdict(BaseModel):
        ok: bool
        note: str = ""

    class Publish(Flow):
        @start()
        def draft(self):
            return "the draft"

        @listen(draft)
        async def review(self, draft):
            verdict = await self.ask(f"Publish {draft!r}?", schema=Verdict)
            return f"{draft}: {'published' if verdict.ok else 'held'} {verdict.note}".strip()
    """
)

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_STORE", raising=False)
    (tmp_path / "publish.py").write_text(FLOW)
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _waiting_run() -> str:
    result = invoke("run", "publish.py", "--json")
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "waiting" and doc["error"] is None
    assert doc["waiting_for"][0]["prompt"] == "Publish 'the draft'?"
    assert "plait runs respond" in result.stderr
    run_id: str = doc["run_id"]
    return run_id


def test_run_waits_then_respond_finishes_it() -> None:
    run_id = _waiting_run()
    listed = invoke("runs", "list")
    assert run_id in listed.stdout and "waiting" in listed.stdout

    bad = invoke("runs", "respond", run_id, "--value", '{"ok": "perhaps"}')
    assert bad.exit_code == 1
    assert "does not fit its schema" in bad.stderr and "Nothing was stored" in bad.stderr

    done = invoke("runs", "respond", run_id, "--value", '{"ok": true, "note": "ship it"}', "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["status"] == "completed"
    assert doc["output"] == "the draft: published ship it"

    again = invoke("runs", "respond", run_id, "--value", '{"ok": true}')
    assert again.exit_code == 1 and "not waiting for input" in again.stderr


def test_respond_without_resuming_then_resume() -> None:
    run_id = _waiting_run()
    stored = invoke("runs", "respond", run_id, "--value", '{"ok": false}', "--no-resume")
    assert stored.exit_code == 0, stored.output
    assert "answered" in stored.stdout
    shown = invoke("runs", "show", run_id)
    assert "waiting" in shown.stdout
    resumed = invoke("runs", "resume", run_id, "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert "the draft: held" in resumed.stdout


def test_resume_of_an_unanswered_run_says_it_waits() -> None:
    run_id = _waiting_run()
    result = invoke("runs", "resume", run_id)
    assert result.exit_code == 3
    assert "waiting for input" in result.stderr


MEET = textwrap.dedent(
    """
    import datetime

    from pydantic import BaseModel, field_validator
    from plait import Flow, start

    class Meeting(BaseModel):
        when: datetime.datetime
        room: str

        @field_validator("room")
        @classmethod
        def _known(cls, room):
            if room not in {"A", "B"}:
                raise ValueError(f"no room {room!r}")
            return room

    class Meet(Flow):
        @start()
        async def book(self):
            meeting = await self.ask("When and where?", schema=Meeting)
            return f"{meeting.when:%Y-%m-%d} in {meeting.room}"
    """
)


def test_an_answer_the_step_model_refuses_can_be_corrected(tmp_path: Path) -> None:
    (tmp_path / "meet.py").write_text(MEET)
    started = invoke("run", "meet.py", "--json")
    assert started.exit_code == 3, started.output
    run_id = json.loads(started.stdout)["run_id"]

    # Fits the JSON schema, not the model's validator: refused before it is stored.
    refused = invoke(
        "runs", "respond", run_id, "--no-resume", "--value", '{"when": "2026-01-02", "room": "Z"}'
    )
    assert refused.exit_code == 1, refused.output
    assert "no room 'Z'" in refused.stderr and "Nothing was stored" in refused.stderr

    # Refused before it is stored, or stored and asked again: either way the run waits on.
    bad = invoke("runs", "respond", run_id, "--value", '{"when": "next tuesday", "room": "A"}')
    assert bad.exit_code in (1, 3), bad.output
    assert "not waiting" not in bad.output

    good = '{"when": "2026-01-02T10:00:00", "room": "B"}'
    done = invoke("runs", "respond", run_id, "--value", good, "--json")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    assert doc["status"] == "completed" and doc["output"] == "2026-01-02 in B"
