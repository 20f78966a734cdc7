"""The workload table, and one workload run in this process.

``python -m benchmarks.workloads W1 --impl plait --reps 5`` runs a warm-up and 5 timed
repetitions of W1 and prints one JSON line: the samples, what went wrong (if anything),
and the process's peak RSS. ``python -m benchmarks`` calls it once per workload and
implementation, each in a fresh process.

Only the standard library is imported at the top: a baseline process never loads plait,
and the parent process can read :data:`SPECS` cheaply.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["reps", "import", "memory", "rss_of", "ratio"]
IMPLS = ("plait", "baseline")


@dataclass(frozen=True, slots=True)
class Spec:
    """One row of the results table.

    ``kind``: ``reps`` (a function ``func`` in ``_plait``/``_baseline``, warm-up + reps in
    one process), ``import`` (each repetition a fresh interpreter), ``memory`` (peak RSS of
    one process running ``of`` in sequence), ``rss_of`` (the peak RSS of workload ``of``'s
    process), ``ratio`` (median of ``of[1]`` / median of ``of[0]``).
    """

    id: str
    title: str
    unit: str
    target: tuple[str, float] | None
    kind: Kind = "reps"
    func: str = ""
    of: tuple[str, ...] = ()
    informational: bool = False

    def meets(self, value: float) -> bool | None:
        if self.target is None:
            return None
        op, limit = self.target
        return value <= limit if op == "<=" else value >= limit


SPECS: tuple[Spec, ...] = (
    Spec("W1", "linear chain of 200 async steps", "µs/step", ("<=", 10), func="w1"),
    Spec(
        "W1s",
        "W1 with sync def steps (threads)",
        "µs/step",
        None,
        func="w1s",
        informational=True,
    ),
    Spec("W2a", "fan-out to 100 × sleep(0.05), and_ join", "s", ("<=", 0.055), func="w2a"),
    Spec("W2b", "fan-out to 1,000 × sleep(0.05), and_ join", "s", ("<=", 0.065), func="w2b"),
    Spec("W3", "router loops one step 500 times", "µs/iter", ("<=", 10), func="w3"),
    Spec("W5", "1,000 sequential kickoffs of a 3-step flow", "runs/s", (">=", 20_000), func="w5"),
    Spec(
        "W1m",
        "W1 the CrewAI way: pydantic state, a new Flow per run",
        "µs/step",
        ("<=", 10),
        func="w1m",
    ),
    Spec(
        "W3m",
        "W3 the CrewAI way: pydantic state, a new Flow per run",
        "µs/iter",
        ("<=", 10),
        func="w3m",
    ),
    Spec(
        "W5m",
        "W5 the CrewAI way: pydantic state, a new Flow per run",
        "runs/s",
        (">=", 20_000),
        func="w5m",
    ),
    Spec("W6", "random DAG, 10,000 tasks, compile + run", "s", ("<=", 0.3), func="w6"),
    Spec("W6L", "random DAG, 100,000 tasks, compile + run", "s", ("<=", 3.0), func="w6l"),
    Spec(
        "W6r",
        "W6 growth: 100k time / 10k time (linear = 10)",
        "×",
        ("<=", 10),
        "ratio",
        of=("W6", "W6L"),
    ),
    Spec("W7", "map over 10,000 items, concurrency 100, sleep(0.01)", "s", ("<=", 1.1), func="w7"),
    Spec("W7m", "W7 process peak RSS", "MB", ("<=", 100), "rss_of", of=("W7",)),
    Spec("W4", "W1 with durable SQLite store on tmpfs", "µs/step", ("<=", 50), func="w4"),
    Spec(
        "W4a",
        'W4 with durability="async" (dependants start while a completion commits)',
        "µs/step",
        None,
        func="w4a",
        informational=True,
    ),
    Spec(
        "W4d",
        "W1 with durable SQLite store on disk",
        "µs/step",
        None,
        func="w4d",
        informational=True,
    ),
    Spec("W4p", "W1 with PostgreSQL store (loopback)", "µs/step", ("<=", 150), func="w4p"),
    Spec(
        "W4pa",
        'W4p with durability="async"',
        "µs/step",
        None,
        func="w4pa",
        informational=True,
    ),
    Spec("W8", "resume a run with 10,000 completed steps", "s", ("<=", 0.5), func="w8"),
    Spec(
        "W9",
        "200 agents, one model call each, at once; server answers after 50 ms",
        "s",
        ("<=", 0.3),
        func="w9",
    ),
    Spec(
        "W9h",
        "W9 with the openai SDK's default httpx client (plait and baseline)",
        "s",
        None,
        func="w9h",
        informational=True,
    ),
    Spec(
        "W9o",
        "plait's cost per model call through an agent in a step, model time excluded",
        "µs/call",
        ("<=", 200),
        func="w9o",
    ),
    Spec(
        "S1",
        "SQLite bytes per step, 10 KB state, counter-only changes",
        "B/step",
        None,
        func="s1",
        informational=True,
    ),
    Spec("I", "import plait (fresh interpreter)", "s", ("<=", 0.10), "import"),
    Spec("I2", "from plait import Flow, start, listen, router", "s", ("<=", 0.10), "import"),
    Spec(
        "I3",
        "import + first kickoff of a 1-step flow",
        "s",
        None,
        "import",
        informational=True,
    ),
    Spec(
        "M",
        "peak RSS of one process running W1, W2a, W2b, W3",
        "MB",
        ("<=", 50),
        "memory",
        of=("W1", "W2a", "W2b", "W3"),
    ),
)
BY_ID = {s.id: s for s in SPECS}


def process_ids(ids: list[str]) -> list[str]:
    """The workloads that need a process of their own to produce rows ``ids``."""
    out: list[str] = []
    for wid in ids:
        spec = BY_ID[wid]
        needed = list(spec.of) if spec.kind in ("rss_of", "ratio") else [wid]
        out.extend(w for w in needed if w not in out)
    return out


# -- running one workload in this process --------------------------------------------


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _measure(func: str, impl: str, reps: int) -> list[Any]:
    module = importlib.import_module(f"benchmarks._{impl}")
    rep = getattr(module, func)()
    await rep()  # warm-up
    samples = []
    for _ in range(reps):
        gc.collect()
        samples.append(await rep())
    return samples


_IMPORT_CODE = {
    ("I", "plait"): "import plait",
    ("I2", "plait"): "from plait import Flow, start, listen, router",
    ("I3", "plait"): (
        "from plait import Flow, start\n"
        "class One(Flow):\n"
        "    @start()\n"
        "    def go(self):\n"
        "        return 1\n"
        "assert One().kickoff() == 1\n"
    ),
    ("I", "baseline"): "import asyncio",
    ("I2", "baseline"): "import asyncio",
    ("I3", "baseline"): (
        "import asyncio\n"
        "def go():\n"
        "    return 1\n"
        "async def main():\n"
        "    return await asyncio.to_thread(go)\n"
        "assert asyncio.run(main()) == 1\n"
    ),
}


def _time_imports(wid: str, impl: str, reps: int) -> list[float]:
    """Seconds from just before the code to just after, each run in a fresh interpreter
    (the interpreter's own start-up is not counted). The first run is a warm-up."""
    body = _IMPORT_CODE[(wid, impl)]
    script = (
        "import time\n_t0 = time.perf_counter()\n" + body + "\nprint(time.perf_counter() - _t0)\n"
    )
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "first_run.py"  # a real file: plait reads step sources
        path.write_text(script)
        for _ in range(reps + 1):
            proc = subprocess.run(
                [sys.executable, str(path)], capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                raise RuntimeError(f"{wid} ({impl}) failed:\n{proc.stderr[-2000:]}")
            out.append(float(proc.stdout.strip().splitlines()[-1]))
    return out[1:]


def run(wid: str, impl: str, reps: int) -> dict[str, Any]:
    """Run workload ``wid`` here and return its result record."""
    spec = BY_ID[wid]
    problems: list[str] = []
    extra: dict[str, float] = {}
    if spec.kind == "reps":
        samples = asyncio.run(_measure(spec.func, impl, reps))
        values = [s.value for s in samples]
        problems = sorted({s.problem for s in samples if s.problem})
        for key in sorted({k for s in samples for k in s.extra}):
            extra[key] = statistics.median(s.extra[key] for s in samples if key in s.extra)
    elif spec.kind == "import":
        values = _time_imports(wid, impl, reps)
    elif spec.kind == "memory":
        for part in spec.of:
            got = asyncio.run(_measure(BY_ID[part].func, impl, reps))
            problems += sorted({f"{part}: {s.problem}" for s in got if s.problem})
        values = [peak_rss_mb()]
    else:
        raise SystemExit(f"{wid} is computed from other workloads; run {', '.join(spec.of)}")
    return {
        "id": wid,
        "impl": impl,
        "samples": values,
        "problems": problems,
        "extra": extra,
        "rss_mb": peak_rss_mb(),
        "pid": os.getpid(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workloads")
    parser.add_argument("id", choices=sorted(BY_ID))
    parser.add_argument("--impl", choices=IMPLS, default="plait")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.id, args.impl, args.reps)))


if __name__ == "__main__":
    main()
