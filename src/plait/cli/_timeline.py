"""A run's timeline from its events: one span per step attempt, drawn as a table of bars.

``spans(events)`` is the data (:mod:`plait.engine`, also what ``plait run --json``
prints); ``render_timeline(events, console)`` prints it with rich.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from plait.engine import Span, run_duration, spans
from plait.runtime import Event

__all__ = ["STYLES", "Span", "counted", "render_timeline", "run_duration", "spans"]

STYLES: dict[str, str] = {
    "completed": "green",
    "failed": "red",
    "retried": "yellow",
    "cancelled": "bright_black",
    "waiting": "yellow",
    "running": "cyan",
    "interrupted": "magenta",
}
MAX_ROWS = 40
"""Runs with more spans show the first and last rows and a summary per step."""
_EDGE_ROWS = 10
_BAR = 24


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
    events: Sequence[Event],
    console: Console,
    *,
    max_rows: int = MAX_ROWS,
    caption: bool = True,
    live: bool = False,
) -> list[Span]:
    """Print the run's timeline (and a per-step summary for long runs); return its spans.
    ``live``: a process runs the run now (its unfinished steps are running).

    The caption names the run, its duration and how many steps ran.
    """
    rows = spans(events, live=live)
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
