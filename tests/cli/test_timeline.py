"""Timeline spans and rendering, and the progress display, from hand-made events."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from plait.cli._progress import RunProgress
from plait.cli._timeline import Span, _bar, render_timeline, spans
from plait.runtime import (
    Event,
    ItemCompleted,
    RunCompleted,
    RunFailed,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepStarted,
)

T0 = 1_000.0


def _failed_run() -> list[Event]:
    """a runs 1→11 ms; b fails at once, is retried at 4 ms and is still running when c
    fails the run at 20 ms."""
    return [
        RunStarted(run_id="run1", seq=1, ts=T0, flow="f"),
        StepStarted(run_id="run1", seq=2, ts=T0 + 0.001, step="a", invocation=1),
        StepStarted(run_id="run1", seq=3, ts=T0 + 0.001, step="b", invocation=1),
        StepFailed(
            run_id="run1",
            seq=4,
            ts=T0 + 0.003,
            step="b",
            invocation=1,
            attempt=1,
            error="x",
            error_type="E",
            retrying=True,
            duration=0.002,
        ),
        StepStarted(run_id="run1", seq=5, ts=T0 + 0.004, step="b", invocation=1, attempt=2),
        StepCompleted(run_id="run1", seq=6, ts=T0 + 0.011, step="a", invocation=1, duration=0.010),
        StepStarted(run_id="run1", seq=7, ts=T0 + 0.012, step="c", invocation=1),
        ItemCompleted(run_id="run1", seq=8, ts=T0 + 0.013, step="c", invocation=1, index=0),
        StepFailed(
            run_id="run1",
            seq=9,
            ts=T0 + 0.020,
            step="c",
            invocation=1,
            attempt=1,
            error="y",
            error_type="E",
            duration=0.008,
        ),
        RunFailed(run_id="run1", seq=10, ts=T0 + 0.020, error="y", error_type="E", step="c"),
    ]


def test_spans_cover_every_attempt_with_its_status() -> None:
    got = spans(_failed_run())
    assert [(s.step, s.attempt, s.status) for s in got] == [
        ("a", 1, "completed"),
        ("b", 1, "retried"),
        ("b", 2, "cancelled"),
        ("c", 1, "failed"),
    ]
    a, b1, b2, c = got
    assert a.start_ms == pytest.approx(1.0, abs=1e-6)
    assert a.duration_ms == pytest.approx(10.0)
    assert b1.duration_ms == pytest.approx(2.0)
    assert b2.start_ms == pytest.approx(4.0, abs=1e-6)
    assert b2.duration_ms == pytest.approx(16.0, abs=1e-6)  # until the run ended
    assert c.end_ms == pytest.approx(20.0, abs=1e-6)
    assert a.to_dict() == {
        "step": "a",
        "invocation": 1,
        "attempt": 1,
        "start_ms": 1.0,
        "duration_ms": 10.0,
        "status": "completed",
    }


def test_bars_of_parallel_spans_overlap_and_serial_ones_do_not() -> None:
    def cells(span: Span) -> set[int]:
        return {i for i, ch in enumerate(_bar(span, 100.0).plain) if ch == "█"}

    first = Span("a", 1, 1, 0.0, 50.0, "completed")
    beside = Span("b", 1, 1, 25.0, 50.0, "completed")
    after = Span("c", 1, 1, 80.0, 20.0, "completed")
    tiny = Span("d", 1, 1, 100.0, 0.0, "completed")
    assert cells(first) & cells(beside)
    assert not cells(first) & cells(after)
    assert len(cells(tiny)) == 1  # even an instant step is visible
    assert all(len(_bar(s, 100.0).plain) == 24 for s in (first, beside, after, tiny))


def _render(events: list[Event]) -> str:
    out = io.StringIO()
    render_timeline(events, Console(file=out, width=120))
    return out.getvalue()


def test_render_timeline_shows_rows_and_a_caption() -> None:
    text = _render(_failed_run())
    for word in ("retried", "cancelled", "failed", "completed", "(try 2)", "run run1"):
        assert word in text
    assert "3 steps, 4 invocations" in text
    assert "Per step" not in text


def test_long_runs_show_the_ends_and_a_summary_per_step() -> None:
    events: list[Event] = [RunStarted(run_id="long", seq=1, ts=T0, flow="f")]
    for i in range(1, 61):
        step = "odd" if i % 2 else "even"
        events.append(
            StepStarted(run_id="long", seq=2 * i, ts=T0 + i / 1000, step=step, invocation=i)
        )
        events.append(
            StepCompleted(
                run_id="long",
                seq=2 * i + 1,
                ts=T0 + i / 1000 + 0.0005,
                step=step,
                invocation=i,
                duration=0.0005,
            )
        )
    events.append(RunCompleted(run_id="long", seq=200, ts=T0 + 0.061, duration=0.061))
    text = _render(events)
    assert "… 40 more …" in text
    assert "Per step" in text
    assert "60 invocations" in text
    rows = [
        line for line in text.splitlines() if line.startswith("│ odd") or line.startswith("│ even")
    ]
    assert len(rows) == 2 + 20  # 20 timeline rows, 2 summary rows
    summary = next(
        line for line in text.splitlines() if line.startswith("│ odd") and "15.0" in line
    )
    assert "30" in summary  # count


def test_progress_counts_and_names_running_steps() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120)
    progress = RunProgress(console, enabled=False, title="demo")
    with progress:
        for event in _failed_run():
            progress.update(event)
    assert out.getvalue() == ""  # disabled: nothing drawn
    assert (progress.started, progress.completed, progress.failed, progress.retried) == (4, 1, 1, 1)
    assert progress.items == 1
    console.print(progress)
    line = out.getvalue()
    assert "demo" in line and "started 4" in line and "failed 1" in line
    assert "running: b#1" in line


def test_live_progress_draws_on_a_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True)
    with RunProgress(console, enabled=True, title="live") as progress:
        for event in _failed_run()[:3]:
            progress.update(event)
    assert "started 2" in out.getvalue()
