"""A run's timeline from its events: one span per step attempt, drawn as a table of bars.

``spans(events)`` is the data (also what ``plait run --json`` prints);
``render_timeline(events, console)`` prints it with rich.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from plait.runtime import (
    Event,
    InputRequested,
    RunCompleted,
    RunStarted,
    StepCompleted,
    StepFailed,
    StepStarted,
)

Status = Literal["completed", "failed", "retried", "cancelled", "waiting"]
"""``retried``: this attempt failed and the step ran again; ``cancelled``: the run ended
(another step failed) while this attempt still ran; ``waiting``: the attempt stopped in
``ask()`` for a person's answer (it runs again once answered)."""

STYLES: dict[str, str] = {
    "completed": "green",
    "failed": "red",
    "retried": "yellow",
    "cancelled": "bright_black",
    "waiting": "yellow",
}
MAX_ROWS = 40
"""Runs with more spans show the first and last rows and a summary per step."""
_EDGE_ROWS = 10
_BAR = 24


@dataclass(frozen=True, slots=True)
class Span:
    """One attempt of one step invocation, in milliseconds from the start of the run."""

    step: str
    invocation: int
    attempt: int
    start_ms: float
    duration_ms: float
    status: Status

    @property
    def end_ms(self) -> float:
        return self.start_ms + self.duration_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "invocation": self.invocation,
            "attempt": self.attempt,
            "start_ms": round(self.start_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "status": self.status,
        }


def run_duration(events: Sequence[Event]) -> float:
    """Seconds the run took: ``RunCompleted.duration``, else first to last event."""
    for event in reversed(events):
        if isinstance(event, RunCompleted):
            return event.duration
    return events[-1].ts - events[0].ts if events else 0.0


def spans(events: Iterable[Event]) -> list[Span]:
    """The run's step attempts in the order they started."""
    t0: float | None = None
    last = 0.0
    open_: dict[tuple[str, int], tuple[int, int, float]] = {}  # -> (row, attempt, start)
    rows: list[Span | None] = []
    for event in events:
        t0 = event.ts if t0 is None else t0
        last = event.ts
        if isinstance(event, RunStarted):
            t0 = event.ts
        elif isinstance(event, StepStarted):
            open_[(event.step, event.invocation)] = (len(rows), event.attempt, event.ts)
            rows.append(None)
        elif isinstance(event, InputRequested):
            opened = open_.pop((event.step, event.invocation), None)
            if opened is not None:
                row, attempt, ts = opened
                start = (ts - t0) * 1000
                duration = (event.ts - ts) * 1000
                rows[row] = Span(event.step, event.invocation, attempt, start, duration, "waiting")
        elif isinstance(event, StepCompleted | StepFailed):
            opened = open_.pop((event.step, event.invocation), None)
            if opened is None:
                continue
            row, attempt, ts = opened
            status: Status = "completed"
            if isinstance(event, StepFailed):
                status = "retried" if event.retrying else "failed"
            start = (ts - t0) * 1000
            rows[row] = Span(
                event.step, event.invocation, attempt, start, event.duration * 1000, status
            )
    for (step, invocation), (row, attempt, ts) in open_.items():
        start = (ts - (t0 or ts)) * 1000
        rows[row] = Span(step, invocation, attempt, start, (last - ts) * 1000, "cancelled")
    return [r for r in rows if r is not None]


def counted(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _bar(span: Span, total_ms: float) -> Text:
    scale = _BAR / total_ms if total_ms > 0 else 0.0
    lo = min(_BAR - 1, int(span.start_ms * scale))
    hi = max(lo + 1, min(_BAR, math.ceil(span.end_ms * scale)))
    bar = Text("·" * lo, style="bright_black")
    bar.append("█" * (hi - lo), style=STYLES[span.status])
    bar.append("·" * (_BAR - hi), style="bright_black")
    return bar


def _ms(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _row_cells(span: Span, total_ms: float) -> list[Any]:
    inv = str(span.invocation) + (f" (try {span.attempt})" if span.attempt > 1 else "")
    return [
        Text(span.step),
        inv,
        _ms(span.start_ms),
        _ms(span.duration_ms),
        Text(span.status, style=STYLES[span.status]),
        _bar(span, total_ms),
    ]


def render_timeline(
    events: Sequence[Event], console: Console, *, max_rows: int = MAX_ROWS, caption: bool = True
) -> list[Span]:
    """Print the run's timeline (and a per-step summary for long runs); return its spans.

    The caption names the run, its duration and how many steps ran.
    """
    rows = spans(events)
    total_ms = max([run_duration(events) * 1000, *(s.end_ms for s in rows)])
    steps = len({s.step for s in rows})
    run_id = events[0].run_id if events else "?"
    table = Table(
        title="Timeline",
        caption=f"run {run_id} · {_ms(total_ms)} ms · {counted(steps, 'step')}, "
        f"{counted(len(rows), 'invocation')}"
        if caption
        else None,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("step", no_wrap=True, overflow="ellipsis", max_width=28)
    table.add_column("inv", justify="right")
    table.add_column("start ms", justify="right")
    table.add_column("ms", justify="right")
    table.add_column("status")
    table.add_column(f"0 → {_ms(total_ms)} ms", no_wrap=True)
    shown: list[Span | None] = list(rows)
    if len(rows) > max_rows:
        shown = [*rows[:_EDGE_ROWS], None, *rows[-_EDGE_ROWS:]]
    for span in shown:
        if span is None:
            more = len(rows) - 2 * _EDGE_ROWS
            table.add_row(Text(f"… {more:,} more …", style="italic bright_black"))
        else:
            table.add_row(*_row_cells(span, total_ms))
    console.print(table)
    if len(rows) > max_rows:
        console.print(_summary(rows))
    return rows


def _summary(rows: Sequence[Span]) -> Table:
    by_step: dict[str, list[Span]] = defaultdict(list)
    for span in rows:
        by_step[span.step].append(span)
    table = Table(title="Per step", title_justify="left")
    table.add_column("step", overflow="fold")
    for name in ("count", "failed", "total ms", "mean ms", "max ms"):
        table.add_column(name, justify="right")
    for step, group in by_step.items():
        durations = [s.duration_ms for s in group]
        bad = sum(s.status != "completed" for s in group)
        table.add_row(
            Text(step),
            f"{len(group):,}",
            Text(str(bad), style="red" if bad else ""),
            _ms(sum(durations)),
            _ms(sum(durations) / len(durations)),
            _ms(max(durations)),
        )
    return table
