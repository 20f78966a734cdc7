"""The token-usage table ``plait run`` prints after the timeline of a run that called
models or tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}"


def render_usage(events: Sequence[Any], console: Console) -> None:
    """A table of model calls, tool calls, tokens, cost and model time per step (none
    when the run called no model or tool)."""
    from plait.llm import usage

    totals = usage(events)
    if not totals.steps:
        return
    models = sorted(
        {f"{e.provider}:{e.model}" for e in events if type(e).__name__ == "ModelCalled"}
    )
    table = Table(title="Model usage", title_justify="left", caption=", ".join(models))
    for name, justify in [
        ("step", "left"),
        ("model calls", "right"),
        ("tool calls", "right"),
        ("tokens in", "right"),
        ("tokens out", "right"),
        ("cost", "right"),
        ("model s", "right"),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    rows = [*totals.steps.items(), ("total", totals.total)]
    for step, u in rows:
        table.add_row(
            Text(step, style="bold" if step == "total" else ""),
            str(u.model_calls),
            str(u.tool_calls),
            f"{u.input_tokens:,}",
            f"{u.output_tokens:,}",
            _money(u.cost),
            f"{u.latency:.2f}",
        )
    console.print(table)


def usage_json(events: Sequence[Any]) -> dict[str, Any] | None:
    """The same as JSON, for ``plait run --json``."""
    from dataclasses import asdict

    from plait.llm import usage

    totals = usage(events)
    if not totals.steps:
        return None
    return {"total": asdict(totals.total), "steps": {k: asdict(v) for k, v in totals.steps.items()}}
