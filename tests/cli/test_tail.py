"""``plait runs tail``: a run's events as they are stored, from another process, until the
run ends; on a real SQLite store."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from plait import Flow, listen, start
from plait.cli._app import app

STORE = "sqlite:///runs.db"
WAIT_S = 60.0
"""Longest a test waits for a line from a subprocess before it fails (not a sleep)."""

WRITER = textwrap.dedent(
    """
    import sys

    from plait import Flow, listen, start


    class Slow(Flow):
        @start()
        def first(self):
            return "one"

        @listen(first)
        def second(self, value):
            print("waiting", flush=True)
            sys.stdin.readline()  # the test says when to go on
            return value + " two"


    if __name__ == "__main__":
        print(Slow().kickoff(store=sys.argv[1], run_id=sys.argv[2]), flush=True)
    """
)

runner = CliRunner()


class Done(Flow):
    @start()
    def fetch(self) -> str:
        self.state["n"] = 1
        return "hello\nworld"

    @listen(fetch)
    def shout(self, text: str) -> str:
        return text.upper()


class Broken(Flow):
    @start()
    def go(self) -> None:
        raise ValueError("no luck\nsecond line")


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLAIT_STORE", raising=False)


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["runs", "tail", *args, "--store", STORE])


def test_a_finished_run_prints_its_whole_log_and_exits_0() -> None:
    assert Done().kickoff(store=STORE, run_id="done-1") == "HELLO\nWORLD"
    result = invoke("done-1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(1, len(lines) + 1))
    assert [line.split()[2] for line in lines] == [
        "RunStarted",
        "StepStarted",
        "StateChanged",
        "StepCompleted",
        "StepStarted",
        "StepCompleted",
        "RunCompleted",
    ]
    assert "flow Done" in lines[0]
    assert "fetch" in lines[3] and '"hello\\nworld"' in lines[3]  # one line per event
    assert "shout" in lines[5] and '"HELLO\\nWORLD"' in lines[5]


def test_after_skips_the_events_up_to_seq() -> None:
    Done().kickoff(store=STORE, run_id="done-2")
    result = invoke("done-2", "--after", "5")
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["6", "7"]
    past_the_end = invoke("done-2", "--after", "99")
    assert past_the_end.exit_code == 0 and past_the_end.stdout == ""


def test_json_prints_one_stored_event_a_line() -> None:
    Done().kickoff(store=STORE, run_id="done-3")
    result = invoke("done-3", "--json")
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["seq"] for d in docs] == list(range(1, 8))
    assert docs[-1]["type"] == "RunCompleted" and docs[-1]["output"] == "HELLO\nWORLD"
    assert {d["run_id"] for d in docs} == {"done-3"}
    shown = runner.invoke(app, ["runs", "show", "done-3", "--json", "--store", STORE])
    assert docs == json.loads(shown.stdout)["events"]  # as runs show --json has them


def test_a_failed_run_exits_1_and_shows_its_error() -> None:
    with pytest.raises(ValueError, match="no luck"):
        Broken().kickoff(store=STORE, run_id="broken-1")
    result = invoke("broken-1")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert "StepFailed" in lines[-2] and "ValueError: no luck" in lines[-2]
    assert "RunFailed" in lines[-1] and "StepError" in lines[-1]
    assert "second line" not in result.stdout  # one line per event


def test_an_unknown_run_is_an_error() -> None:
    Done().kickoff(store=STORE, run_id="done-4")  # the store exists
    result = invoke("nope")
    assert result.exit_code == 1
    assert "no run nope" in result.stderr


class Child:
    """A subprocess whose stdout a thread reads line by line: :meth:`next` waits for the
    next line (at most :data:`WAIT_S`: a deadline, not a sleep)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next(self) -> str | None:
        """The next line; None at the end of the output."""
        return self._lines.get(timeout=WAIT_S)

    def until_end(self) -> list[str]:
        out = []
        while (line := self.next()) is not None:
            out.append(line)
        return out

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> str:
        """Kill it if it still runs, wait for it, close its pipes; its stderr."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT_S)
        self._reader.join(timeout=WAIT_S)
        assert self.proc.stderr is not None and self.proc.stdin is not None
        err = self.proc.stderr.read()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return err


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Child]:
    """A process running a flow into the store, as run ``live``; its second step waits
    for a line on stdin."""
    (tmp_path / "writer.py").write_text(WRITER)
    child = Child([sys.executable, "writer.py", STORE, "live"], tmp_path)
    try:
        assert child.next() == "waiting"  # the run is stored and in its second step
        yield child
    finally:
        child.stop()


def tail_process(tmp_path: Path, *args: str) -> Child:
    command = ["runs", "tail", "live", "--store", STORE, *args]
    return Child([sys.executable, "-m", "plait.cli", *command], tmp_path)


def test_a_run_written_by_another_process_is_followed_live(writer: Child, tmp_path: Path) -> None:
    tail = tail_process(tmp_path, "--json")
    try:
        seen = []
        while not seen or (seen[-1]["type"], seen[-1].get("step")) != ("StepCompleted", "first"):
            line = tail.next()
            assert line is not None, "the tail ended before the run did"
            seen.append(json.loads(line))
        assert tail.proc.poll() is None  # the run waits in its second step: the tail goes on
        writer.send("go")
        seen.extend(json.loads(line) for line in tail.until_end())
        assert tail.proc.wait(timeout=WAIT_S) == 0
    finally:
        tail.stop()
    assert writer.next() == "one two"
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))
    assert seen[-2]["type"] == "StepCompleted" and seen[-2]["output"] == "one two"
    assert seen[-1]["type"] == "RunCompleted"


def test_ctrl_c_stops_following_and_the_run_goes_on(writer: Child, tmp_path: Path) -> None:
    tail = tail_process(tmp_path)
    try:
        first = tail.next()
        assert first is not None and "RunStarted" in first
        tail.proc.send_signal(signal.SIGINT)
        assert tail.proc.wait(timeout=WAIT_S) == 130
    finally:
        err = tail.stop()
    assert "stopped following run live" in err
    assert "Traceback" not in err
    writer.send("go")
    assert writer.next() == "one two"
    assert writer.proc.wait(timeout=WAIT_S) == 0
