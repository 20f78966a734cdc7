"""``python -m benchmarks``: run every workload, plait and baseline, and print the table.

Each workload runs in a fresh process per implementation (``python -m
benchmarks.workloads ID --impl plait|baseline``): one warm-up, then ``--reps`` timed
repetitions. Run it from the repository root with the project's virtual environment.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._report import Results, build_rows, markdown, notes, print_table, write_markdown
from benchmarks.workloads import BY_ID, IMPLS, SPECS, process_ids

ROOT = Path(__file__).resolve().parent.parent


def run_workload(wid: str, impl: str, reps: int, timeout: float) -> dict[str, Any]:
    """Run one workload in a fresh process; its JSON record, or ``{"error": ...}``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    cmd = [sys.executable, "-m", "benchmarks.workloads", wid, "--impl", impl, "--reps", str(reps)]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        sys.stderr.write(proc.stderr)
        return {"error": tail[0]}
    record: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run plait's benchmark workloads and the plain-asyncio baselines.",
    )
    parser.add_argument(
        "--only", help="comma-separated workload ids, e.g. W1,W3 (default: all)", default=""
    )
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (default 5)")
    parser.add_argument("--markdown", type=Path, help="add the results as a section to FILE")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds per workload process (default 900)"
    )
    args = parser.parse_args(argv)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in BY_ID]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(BY_ID)}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    args.ids = wanted or [s.id for s in SPECS]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    specs = [s for s in SPECS if s.id in args.ids]
    results: Results = {}
    for wid in process_ids(args.ids):
        for impl in IMPLS:
            print(f"{wid:>4} {impl:<8} ...", end=" ", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            results[(wid, impl)] = record = run_workload(wid, impl, args.reps, args.timeout)
            took = time.perf_counter() - t0
            print(record.get("error", f"{took:.1f} s"), file=sys.stderr, flush=True)
    rows = build_rows(specs, results)
    print_table(rows)
    for line in notes(rows):
        print(f"- {line}")
    if args.markdown:
        command = shlex.join(["python", "-m", "benchmarks", *(argv or sys.argv[1:])])
        write_markdown(args.markdown, markdown(rows, command, args.reps))
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
