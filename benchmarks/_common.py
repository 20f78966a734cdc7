"""What the plait and the baseline versions of a workload share: sizes, the DAG, results."""

from __future__ import annotations

import contextlib
import random
import tempfile
import uuid
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


# -- durable stores (W4, W4d, W4p, W8, S1) ---------------------------------------------

RESUME_LAPS = 10_000  # W8: completed laps before the failure
BIG_STATE_BYTES = 10_000  # S1: the size of the state's unchanging string field
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"  # W4p: loopback, trust auth
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def shm_db_path(tag: str) -> str:
    """A fresh SQLite path on tmpfs (``/dev/shm``), unique to this process and ``tag``."""
    import os

    base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
    return os.path.join(base, f"plait-bench-{os.getpid()}-{tag}.db")


def disk_db_dir() -> str:
    """A fresh temporary directory on disk (under ``benchmarks/out/``)."""
    import os

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(out, exist_ok=True)
    return tempfile.mkdtemp(prefix="plait-bench-", dir=out)


def remove_db(path: str) -> None:
    """Delete a SQLite database and its ``-wal`` / ``-shm`` / ``-journal`` files."""
    import os

    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)


def random_schema() -> str:
    return f"bench_{uuid.uuid4().hex[:16]}"


async def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    async with await psycopg.AsyncConnection.connect(PG_DSN, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )
