"""What the plait and the baseline versions of a workload share: sizes, the DAG, results."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

CHAIN_STEPS = 200  # W1
FAN_SLEEP = 0.05  # W2
LOOP_ITERATIONS = 500  # W3
KICKOFFS = 1_000  # W5
DAG_SEED = 20240601  # W6
MAP_ITEMS = 10_000  # W7
MAP_CONCURRENCY = 100
MAP_SLEEP = 0.01


@dataclass(slots=True)
class Sample:
    """One repetition: the metric in the workload's unit, and what went wrong, if anything.

    ``problem`` is set when the run finished but computed the wrong result; the time is
    still reported, flagged.
    """

    value: float
    problem: str = ""
    extra: dict[str, float] = field(default_factory=dict)


Rep = Callable[[], Awaitable[Sample]]
"""One timed repetition of a workload (set-up work happens before the clock starts)."""


def random_dag(n: int, seed: int = DAG_SEED) -> list[tuple[int, ...]]:
    """``deps[i]``: up to 3 distinct earlier tasks task ``i`` depends on (task 0: none)."""
    rng = random.Random(seed)
    return [tuple(sorted(rng.sample(range(i), min(3, i)))) for i in range(n)]


def task_name(i: int) -> str:
    return f"t{i}"


def expect(got: object, want: object, what: str) -> str:
    """``""`` when ``got == want``, else a one-line description of the wrong result."""
    return "" if got == want else f"{what}: got {got!r:.60}, expected {want!r:.60}"
