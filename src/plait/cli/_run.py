"""``plait run``: stream a run, show its progress, then its result and timeline."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.pretty import Pretty
from rich.text import Text

from plait.cli._progress import RunProgress
from plait.cli._timeline import counted, render_timeline, run_duration, spans
from plait.core import PlaitError
from plait.plan import compile
from plait.runtime import Event, RunCompleted, RunFailed, RunStarted


def parse_inputs(pairs: Sequence[str], inputs_json: str | None) -> dict[str, Any]:
    """``--inputs-json`` updated by each ``--input key=value`` (JSON when it parses)."""
    inputs: dict[str, Any] = {}
    if inputs_json:
        try:
            data = json.loads(inputs_json)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--inputs-json is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"--inputs-json must be a JSON object, got {type(data).__name__}")
        inputs.update(data)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--input {pair!r} is not key=value")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        inputs[key.strip()] = value
    return inputs


@dataclass
class Outcome:
    """What a run left behind: its events, result or error, and final state."""

    definition: Any
    events: list[Event] = field(default_factory=list)
    output: Any = None
    error: BaseException | None = None
    wall: float = 0.0

    @property
    def started(self) -> bool:
        return bool(self.events) and isinstance(self.events[0], RunStarted)

    @property
    def failed_step(self) -> str:
        for event in reversed(self.events):
            if isinstance(event, RunFailed) and event.step:
                return event.step
        return str(getattr(self.error, "step", "") or "")

    @property
    def duration(self) -> float:
        return run_duration(self.events) if self.error is None else self.wall


def execute(
    definition: Any, inputs: Mapping[str, Any], *, store: str | None, progress: RunProgress
) -> Outcome:
    """Run ``definition`` through ``stream``; a failed run is returned, not raised."""
    outcome = Outcome(definition)
    options: dict[str, Any] = {} if store is None else {"store": store}

    async def consume() -> None:
        async for event in definition.stream(inputs, **options):
            outcome.events.append(event)
            progress.update(event)

    t0 = time.perf_counter()
    with progress:
        try:
            asyncio.run(consume())
        except PlaitError as exc:
            if not outcome.started:
                raise  # bad inputs or plan: nothing ran
            outcome.error = exc
    outcome.wall = time.perf_counter() - t0
    if outcome.error is None:
        outcome.output = _result(outcome.events)
    return outcome


def _result(events: Sequence[Event]) -> Any:
    """What ``kickoff()``/``run()`` returned: the output ``RunCompleted`` carries."""
    for event in reversed(events):
        if isinstance(event, RunCompleted):
            return event.output
    return None


def jsonable(value: Any) -> Any:
    from pydantic_core import to_jsonable_python

    try:
        return to_jsonable_python(value, fallback=repr, inf_nan_mode="null")
    except Exception:
        return repr(value)


def to_json(outcome: Outcome) -> str:
    events = outcome.events
    error = None
    if outcome.error is not None:
        error = {
            "type": type(outcome.error).__name__,
            "message": str(outcome.error),
            "step": outcome.failed_step or None,
        }
    doc = {
        "run_id": events[0].run_id if events else "",
        "flow": compile(outcome.definition).name,
        "status": "failed" if outcome.error is not None else "completed",
        "output": jsonable(outcome.output),
        "state": jsonable(getattr(outcome.definition, "state", None)),
        "duration_s": round(outcome.duration, 6),
        "steps": [s.to_dict() for s in spans(events)],
        "error": error,
    }
    return json.dumps(doc, ensure_ascii=False)


def _readable(value: Any) -> Any:
    """Text as it is (multi-line output stays readable); anything else pretty-printed."""
    return Text(value) if isinstance(value, str) else Pretty(value)


def report(outcome: Outcome, console: Console, *, quiet: bool) -> None:
    """Print the timeline, the result and a summary line (only the result when quiet)."""
    if quiet:
        if outcome.error is None:
            console.print(_readable(outcome.output))
        return
    rows = render_timeline(outcome.events, console, caption=outcome.error is not None)
    if outcome.error is not None:
        return
    console.print(Text("Result", style="bold"))
    console.print(_readable(outcome.output))
    run_id = outcome.events[0].run_id if outcome.events else "?"
    steps = len({r.step for r in rows})
    line = Text("✓ completed", style="bold green")
    line.append(f"  run {run_id} in {outcome.duration * 1000:,.1f} ms · ")
    line.append(f"{counted(steps, 'step')}, {counted(len(rows), 'invocation')}")
    console.print(line)
