"""From workload results to rows, a terminal table, notes and a markdown section."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.workloads import Spec

Results = dict[tuple[str, str], dict[str, Any]]
"""``(workload id, impl) -> the JSON record that workload's process printed``."""


@dataclass(frozen=True, slots=True)
class Stats:
    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stats:
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass(slots=True)
class Row:
    spec: Spec
    plait: Stats | None = None
    baseline: Stats | None = None
    error: str = ""
    problems: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.error or self.plait is None:
            return "error"
        if self.spec.informational:
            status = "info"
        else:
            ok = self.spec.meets(self.plait.median)
            status = "—" if ok is None else "pass" if ok else "miss"
        return status + ("*" if self.problems else "")


def _stats(results: Results, wid: str, impl: str, key: str = "") -> Stats | None:
    record = results.get((wid, impl))
    if record is None or "error" in record:
        return None
    if key:
        return Stats.of([record[key]])
    return Stats.of(record["samples"])


def build_rows(specs: list[Spec], results: Results) -> list[Row]:
    rows = []
    for spec in specs:
        row = Row(spec)
        sources = list(spec.of) if spec.kind in ("rss_of", "ratio") else [spec.id]
        for wid in sources:
            for impl in ("plait", "baseline"):
                record = results.get((wid, impl), {})
                if "error" in record:
                    row.error = row.error or f"{wid} ({impl}): {record['error']}"
                if impl == "plait":
                    row.problems += record.get("problems", [])
        if spec.kind == "rss_of":
            row.plait = _stats(results, spec.of[0], "plait", "rss_mb")
            row.baseline = _stats(results, spec.of[0], "baseline", "rss_mb")
        elif spec.kind == "ratio":
            row.plait = _ratio(results, spec.of, "plait")
            row.baseline = _ratio(results, spec.of, "baseline")
            row.problems = []  # reported on the rows it is computed from
        else:
            row.plait = _stats(results, spec.id, "plait")
            row.baseline = _stats(results, spec.id, "baseline")
            row.extra = results.get((spec.id, "plait"), {}).get("extra", {})
        rows.append(row)
    return rows


def _ratio(results: Results, ids: tuple[str, ...], impl: str) -> Stats | None:
    small, large = (_stats(results, wid, impl) for wid in ids)
    if small is None or large is None:
        return None
    return Stats.of([large.median / small.median])


# -- formatting ----------------------------------------------------------------------


def num(value: float) -> str:
    """Three significant digits below 100, whole numbers (with commas) above."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def spread(stats: Stats | None) -> str:
    if stats is None:
        return "—"
    if stats.n == 1:
        return "—"
    return f"{num(stats.low)}–{num(stats.high)}"


def target(spec: Spec) -> str:
    if spec.target is None:
        return "—"
    op, limit = spec.target
    return f"{'≤' if op == '<=' else '≥'} {limit:,g}"


HEADERS = (
    "id",
    "workload",
    "plait median",
    "plait min–max",
    "baseline median",
    "baseline min–max",
    "unit",
    "target",
    "status",
)


def cells(row: Row) -> tuple[str, ...]:
    return (
        row.spec.id,
        row.spec.title,
        "—" if row.plait is None else num(row.plait.median),
        spread(row.plait),
        "—" if row.baseline is None else num(row.baseline.median),
        spread(row.baseline),
        row.spec.unit,
        target(row.spec),
        row.status,
    )


def print_table(rows: list[Row]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="plait benchmarks (baseline: the same work in plain asyncio)")
    for i, header in enumerate(HEADERS):
        numeric = 2 <= i <= 5
        table.add_column(header, justify="right" if numeric else "left", no_wrap=i != 1)
    colours = {"pass": "green", "miss": "red", "error": "bold red"}
    for row in rows:
        *rest, status = cells(row)
        colour = colours.get(status.rstrip("*"), "")
        table.add_row(*rest, f"[{colour}]{status}[/]" if colour else status)
    # Not a terminal (a pipe, a log file): do not squeeze the table into 80 columns.
    Console(width=None if sys.stdout.isatty() else 180).print(table)


def notes(rows: list[Row]) -> list[str]:
    """One line per row that misses its target, fails, or computed a wrong result."""
    out = []
    for row in rows:
        spec, p, b = row.spec, row.plait, row.baseline
        if row.error:
            out.append(f"{spec.id}: did not complete — {row.error}")
            continue
        if p is not None and spec.target is not None and not spec.meets(p.median):
            op, limit = spec.target
            factor = p.median / limit if op == "<=" else limit / p.median
            by = f"{factor:.2f}×" if factor >= 1.1 else f"{(factor - 1) * 100:.1f} %"
            base = f"; baseline {num(b.median)} {spec.unit}" if b is not None else ""
            out.append(
                f"{spec.id} misses: {p.median:.4g} {spec.unit} against {target(spec)} "
                f"({by} {'over' if op == '<=' else 'short of'} the target{base})"
            )
        for problem in row.problems:
            out.append(f"{spec.id}: wrong result, timing still shown — {problem}")
        for key, value in row.extra.items():
            out.append(f"{spec.id}: {key} = {num(value)} (median, not in the timed figure)")
    return out


# -- markdown ------------------------------------------------------------------------


def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info.setdefault("cpu", platform.processor() or platform.machine())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info["cores"] = f"{os.cpu_count()} logical" + (f", {usable} usable" if usable else "")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    info["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    info["os"] = f"{platform.system()} {platform.release()}"
    info["commit"] = _git_commit()
    return info


def _git_commit() -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    sha = git("rev-parse", "--short", "HEAD")
    if not sha:
        return "unknown"
    return sha + (" + uncommitted changes" if git("status", "--porcelain", "--", "src") else "")


def markdown(rows: list[Row], command: str, reps: int) -> str:
    info = machine()
    now = dt.datetime.now().astimezone()
    lines = [
        f"## {now:%Y-%m-%d %H:%M %Z} — {info['cpu']}, {info['cores'].split(',')[0]}",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + ".",
        "",
        f"Command: `{command}` — median of {reps} repetitions after one warm-up, each "
        "workload and each implementation in a fresh process.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---:" if 2 <= i <= 5 else "---" for i in range(len(HEADERS))) + "|",
    ]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    found = notes(rows)
    lines += ["", "Notes:", ""]
    lines += [f"- {n}" for n in found] if found else ["- every workload meets its target"]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, section: str) -> None:
    """Put ``section`` at the top of ``path`` (newest first), under its title."""
    title = (
        "# plait benchmark results\n\nNewest first. Written by `python -m benchmarks --markdown`.\n"
    )
    old = path.read_text() if path.exists() else title
    head, sep, tail = old.partition("\n## ")
    path.write_text(head.rstrip("\n") + "\n\n" + section + (f"\n## {tail}" if sep else ""))
