"""Where plait spends a workload's time: ``python -m benchmarks.profile W1``.

Runs the plait version of a workload many times under cProfile and prints plait's
functions by cumulative time, in µs per unit of the workload's metric (per step for W1,
per iteration for W3, per kickoff for W5, per repetition otherwise). cProfile slows
small functions down a lot (2-3× overall), so the ``≈ µs`` column scales each function's
share of the profiled time to the unprofiled time per unit: an estimate, good for ranking.
For workloads that sleep (W2, W7) the shares are of wall time, sleeping included.
cProfile does not see the per-field ``object.__setattr__`` of frozen dataclasses, so their
generated ``__init__`` looks cheaper here than it is; time it with ``timeit``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import time
from pathlib import Path

from benchmarks._common import CHAIN_STEPS, KICKOFFS, LOOP_ITERATIONS, Rep
from benchmarks.workloads import BY_ID

PER_UNIT = {"W1": CHAIN_STEPS, "W1s": CHAIN_STEPS, "W3": LOOP_ITERATIONS, "W5": KICKOFFS}
PLAIT_SRC = str(Path(importlib.util.find_spec("plait").origin).parent)  # type: ignore[union-attr,arg-type]


async def _repeat(rep: Rep, runs: int) -> float:
    t0 = time.perf_counter()
    for _ in range(runs):
        await rep()
    return time.perf_counter() - t0


def _by_function(prof: cProfile.Profile) -> dict[str, tuple[int, float, float]]:
    """``"path:line qualname" -> (calls, own s, cumulative s)``, summed per code object.

    (``pstats`` keys by file, line and name, so the generated ``__init__`` of every
    dataclass — all ``<string>:2 __init__`` — would overwrite each other.)
    """
    out: dict[str, tuple[int, float, float]] = {}
    for entry in prof.getstats():
        code = entry.code
        if isinstance(code, str):
            label = f"~ {code}"
        elif code.co_filename == "<string>":
            label = f"<string>: generated {code.co_name} (dataclasses: events, commands...)"
        else:
            label = f"{code.co_filename}:{code.co_firstlineno} {code.co_qualname}"
        calls, own, cum = out.get(label, (0, 0.0, 0.0))
        out[label] = (calls + entry.callcount, own + entry.inlinetime, cum + entry.totaltime)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("id", choices=sorted(k for k, s in BY_ID.items() if s.kind == "reps"))
    parser.add_argument("--runs", type=int, default=200, help="repetitions to profile")
    parser.add_argument("--top", type=int, default=25, help="rows to print")
    parser.add_argument("--all", action="store_true", help="include functions outside plait")
    args = parser.parse_args(argv)

    from benchmarks import _plait

    rep = getattr(_plait, BY_ID[args.id].func)()
    units = args.runs * PER_UNIT.get(args.id, 1)
    asyncio.run(_repeat(rep, 1))  # warm-up: compiles the plan
    plain = asyncio.run(_repeat(rep, args.runs))
    prof = cProfile.Profile()
    profiled = prof.runcall(asyncio.run, _repeat(rep, args.runs))

    print(
        f"{args.id}: {args.runs} runs; per unit {plain / units * 1e6:.2f} µs unprofiled, "
        f"{profiled / units * 1e6:.2f} µs profiled"
    )
    print(f"{'share':>6} {'≈ µs':>6} {'cum µs':>7} {'own µs':>7} {'calls':>6}  function")
    print(f"{'':>6} {'':>6} {'(profiled, per unit)':>22}")
    rows = []
    for label, (calls, own, cum) in _by_function(prof).items():
        path = label.split(":", 1)[0]
        inside = path.startswith(PLAIT_SRC)
        generated = path == "<string>"  # dataclass __init__ & co: plait's events, commands
        if inside or generated or args.all:
            rows.append((cum, own, calls, label.removeprefix(PLAIT_SRC + "/")))
    for cum, own, calls, label in sorted(rows, reverse=True)[: args.top]:
        share = cum / profiled
        print(
            f"{share:6.1%} {share * plain / units * 1e6:6.2f} {cum / units * 1e6:7.2f} "
            f"{own / units * 1e6:7.2f} {calls / units:6.2f}  {label}"
        )


if __name__ == "__main__":
    main()
