"""``plait runs tail RUN_ID``: follow a run's log live, from any process, until it ends.

A thin command over :func:`plait.engine.follow_run`: one line per event as it is stored
(by the process running it, which may be another), then the exit status of the run's
end. Ctrl-C stops following; the run itself goes on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from plait.cli._console import console as new_console
from plait.cli._errors import reported, stderr
from plait.cli._runs import Debug, RunId, StoreOpt, _debugging, _no_run, _short, _with_store, runs
from plait.runtime import (
    CacheHit,
    Event,
    EventEmitted,
    InputReceived,
    InputRequested,
    ItemCompleted,
    ModelCalled,
    RouteTaken,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunResumed,
    RunStarted,
    RunWaiting,
    StateChanged,
    StepCompleted,
    StepFailed,
    StepStarted,
    Store,
    ToolCalled,
)

EXIT_CODES = {"completed": 0, "failed": 1, "cancelled": 1}
"""The exit status of ``runs tail`` for each way a run ends."""

_STYLES: dict[type[Event], str] = {
    RunStarted: "bold",
    StepCompleted: "green",
    StepFailed: "red",
    RunCompleted: "bold green",
    RunFailed: "bold red",
    RunCancelled: "bright_black",
    RunWaiting: "yellow",
    InputRequested: "yellow",
}
_WIDTH = 60
"""At most this many characters of an output, error or value on a line."""


@runs.command()
def tail(
    ctx: typer.Context,
    run_id: RunId,
    store: StoreOpt = None,
    after: Annotated[
        int,
        typer.Option(
            "--after",
            min=0,
            metavar="SEQ",
            help="Only events after event SEQ (default: the whole log).",
        ),
    ] = 0,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print each event as one JSON object a line (as runs show --json lists them).",
        ),
    ] = False,
    debug: Debug = False,
) -> None:
    """Follow a run as it is stored, by this process or another: one line per event
    (seq, time, type, step, output), until the run ends. Exit 0 when it completed, 1 when
    it failed or was cancelled; a run that waits for input is followed on until it is
    answered. Ctrl-C stops following (exit 130); the run itself goes on."""
    from plait.cli._run import store_url

    url = store_url(store)
    out = new_console()
    show: Callable[[Event], None] = _print_json if as_json else lambda e: _print_line(out, e)
    with reported(_debugging(ctx, debug)):
        try:
            status = _with_store(url, lambda s: _follow(s, run_id, after, show))
        except KeyboardInterrupt:
            stderr().print(
                Text(f"stopped following run {run_id}; the run itself goes on", "bright_black")
            )
            raise typer.Exit(130) from None
    if status is None:
        raise _no_run(run_id, url)
    raise typer.Exit(EXIT_CODES.get(status, 1))


async def _follow(
    store: Store, run_id: str, after: int, show: Callable[[Event], None]
) -> str | None:
    """Show the run's events after ``after`` until it ends; its final status, or None
    when ``store`` has no run ``run_id``."""
    from plait.engine import STALE, follow_run, run_status

    record = await store.get_run(run_id)
    if record is None:
        return None
    if run_status(record) == STALE:
        stderr().print(
            Text(
                f"run {run_id} is stored as running but no process runs it now: it goes on "
                f"only when resumed (plait runs resume {run_id}, or a plait worker); "
                "following it anyway (Ctrl-C to stop)",
                style="yellow",
            )
        )
    async for event in follow_run(run_id, store=store, after_seq=after):
        show(event)
    record = await store.get_run(run_id)
    return None if record is None else record.status


def _print_json(event: Event) -> None:
    from plait.runtime import encode_event

    sys.stdout.write(json.dumps(encode_event(event), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _print_line(console: Console, event: Event) -> None:
    line = Text(f"{event.seq:>5}  ", style="bright_black")
    line.append(_time(event.ts), style="bright_black")
    line.append("  ")
    line.append(f"{event.type:<14}", style=_STYLES.get(type(event), ""))
    step = getattr(event, "step", "")
    if step:
        line.append(f"  {step}", style="bold")
    detail = _detail(event)
    if detail:
        line.append(f"  {detail}")
    console.print(line)
    console.file.flush()


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3] if ts else "—"


def _value(value: Any) -> str:
    """A value on one line, cut to :data:`_WIDTH` characters."""
    from plait.engine import jsonable

    return _short(json.dumps(jsonable(value), ensure_ascii=False), _WIDTH)


def _text(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return _short(first, _WIDTH)


def _detail(event: Event) -> str:
    """What a line says after the step: the output, error, label or value of ``event``."""
    if isinstance(event, RunStarted):
        return f"flow {event.flow}" + (f" inputs {_value(event.inputs)}" if event.inputs else "")
    if isinstance(event, StepStarted):
        return f"#{event.invocation}" + (f" try {event.attempt}" if event.attempt > 1 else "")
    if isinstance(event, StepCompleted | RunCompleted):
        return _value(event.output)
    if isinstance(event, StepFailed):
        retry = " (retrying)" if event.retrying else ""
        return f"{event.error_type}: {_text(event.error)}{retry}"
    if isinstance(event, RunFailed):
        return f"{event.error_type}: {_text(event.error)}"
    if isinstance(event, StateChanged):
        parts = [f"set {', '.join(event.changes)}"] if event.changes else []
        if event.removed:
            parts.append(f"removed {', '.join(event.removed)}")
        return _short("; ".join(parts), _WIDTH)
    if isinstance(event, RouteTaken):
        return f"→ {event.label}"
    if isinstance(event, EventEmitted):
        return f"{event.name} {_value(event.payload)}"
    if isinstance(event, ItemCompleted):
        return f"item {event.index}: {_value(event.output)}"
    if isinstance(event, CacheHit):
        return "from the cache"
    if isinstance(event, ModelCalled):
        return f"{event.provider}:{event.model} {event.input_tokens}→{event.output_tokens} tokens"
    if isinstance(event, ToolCalled):
        return f"{event.tool}: " + (_text(event.error) if event.error else _value(event.output))
    if isinstance(event, InputRequested):
        return _text(event.prompt)
    if isinstance(event, InputReceived):
        return "timed out" if event.timed_out else _value(event.value)
    if isinstance(event, RunWaiting):
        return f"for {', '.join(event.steps)}" if event.steps else ""
    if isinstance(event, RunResumed):
        return f"again: {', '.join(event.rerun)}" if event.rerun else ""
    if isinstance(event, RunCancelled):
        return _text(event.reason)
    return ""
