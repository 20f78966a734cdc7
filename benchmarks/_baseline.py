"""The same workloads in plain asyncio: the floor plait's numbers are read against.

Same names and sizes as :mod:`benchmarks._plait`; no plait import here.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._common import (
    BIG_STATE_BYTES,
    CHAIN_STEPS,
    FAN_SLEEP,
    KICKOFFS,
    LOOP_ITERATIONS,
    MAP_CONCURRENCY,
    MAP_ITEMS,
    MAP_SLEEP,
    PG_DSN,
    RESUME_LAPS,
    Rep,
    Sample,
    disk_db_dir,
    drop_schema,
    expect,
    random_dag,
    random_schema,
    remove_db,
    shm_db_path,
    task_name,
)

# -- W1 / W1s ------------------------------------------------------------------------


async def _add_one(state: dict[str, Any]) -> None:
    state["counter"] += 1


def _add_one_sync(state: dict[str, Any]) -> None:
    state["counter"] += 1


def w1() -> Rep:
    steps = [_add_one] * CHAIN_STEPS

    async def rep() -> Sample:
        state = {"counter": 0}
        t0 = time.perf_counter()
        for step in steps:
            await step(state)
        dt = time.perf_counter() - t0
        return Sample(dt / CHAIN_STEPS * 1e6, expect(state["counter"], CHAIN_STEPS, "counter"))

    return rep


def w1s() -> Rep:
    steps = [_add_one_sync] * CHAIN_STEPS

    async def rep() -> Sample:
        state = {"counter": 0}
        t0 = time.perf_counter()
        for step in steps:
            await asyncio.to_thread(step, state)
        dt = time.perf_counter() - t0
        return Sample(dt / CHAIN_STEPS * 1e6, expect(state["counter"], CHAIN_STEPS, "counter"))

    return rep


# -- W2 ------------------------------------------------------------------------------


async def _branch() -> int:
    await asyncio.sleep(FAN_SLEEP)
    return 1


def _fan(n: int) -> Rep:
    async def rep() -> Sample:
        t0 = time.perf_counter()
        total = sum(await asyncio.gather(*(_branch() for _ in range(n))))
        dt = time.perf_counter() - t0
        return Sample(dt, expect(total, n, "sum"))

    return rep


def w2a() -> Rep:
    return _fan(100)


def w2b() -> Rep:
    return _fan(1_000)


# -- W3 ------------------------------------------------------------------------------


async def _body(state: dict[str, Any]) -> str:
    state["counter"] += 1
    return "again" if state["counter"] < LOOP_ITERATIONS else "done"


def w3() -> Rep:
    async def rep() -> Sample:
        state = {"counter": 0}
        t0 = time.perf_counter()
        while await _body(state) == "again":
            pass
        dt = time.perf_counter() - t0
        out = state["counter"]
        return Sample(dt / LOOP_ITERATIONS * 1e6, expect(out, LOOP_ITERATIONS, "iterations"))

    return rep


# -- W5 ------------------------------------------------------------------------------


async def _one() -> int:
    return 1


async def _next(x: int) -> int:
    return x + 1


def w5() -> Rep:
    async def rep() -> Sample:
        outs = []
        t0 = time.perf_counter()
        for _ in range(KICKOFFS):
            outs.append(await _next(await _next(await _one())))
        dt = time.perf_counter() - t0
        return Sample(KICKOFFS / dt, expect(sum(outs), 3 * KICKOFFS, "sum of outputs"))

    return rep


# -- W6: Kahn's algorithm, each ready task an asyncio task ---------------------------


async def noop(**deps: Any) -> None:
    return None


async def run_dag(deps: list[tuple[int, ...]], fn: Callable[..., Awaitable[Any]]) -> list[Any]:
    """Run task ``i`` once every task in ``deps[i]`` is done, passing their outputs by
    name; independent tasks run concurrently."""
    loop = asyncio.get_running_loop()
    n = len(deps)
    names = [task_name(i) for i in range(n)]
    children: list[list[int]] = [[] for _ in range(n)]
    for i, ds in enumerate(deps):
        for j in ds:
            children[j].append(i)
    waiting = [len(ds) for ds in deps]
    outputs: list[Any] = [None] * n
    done: asyncio.Future[list[Any]] = loop.create_future()
    left = n

    def launch(i: int) -> None:
        task = loop.create_task(fn(**{names[j]: outputs[j] for j in deps[i]}))
        task.add_done_callback(lambda t: finished(i, t))

    def finished(i: int, task: asyncio.Task[Any]) -> None:
        nonlocal left
        outputs[i] = task.result()
        left -= 1
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                launch(c)
        if left == 0:
            done.set_result(outputs)

    for i in range(n):
        if waiting[i] == 0:
            launch(i)
    return await done


def _dag(n: int) -> Rep:
    deps = random_dag(n)

    async def rep() -> Sample:
        t0 = time.perf_counter()
        outputs = await run_dag(deps, noop)
        dt = time.perf_counter() - t0
        return Sample(dt, expect(len(outputs), n, "tasks completed"))

    return rep


def w6() -> Rep:
    return _dag(10_000)


def w6l() -> Rep:
    return _dag(100_000)


# -- W7 ------------------------------------------------------------------------------


async def _item(x: int) -> int:
    await asyncio.sleep(MAP_SLEEP)
    return x


def w7() -> Rep:
    async def rep() -> Sample:
        sem = asyncio.Semaphore(MAP_CONCURRENCY)

        async def limited(x: int) -> int:
            async with sem:
                return await _item(x)

        t0 = time.perf_counter()
        out = await asyncio.gather(*(limited(x) for x in range(MAP_ITEMS)))
        dt = time.perf_counter() - t0
        return Sample(dt, expect(out, list(range(MAP_ITEMS)), "results"))

    return rep


# -- W4 / W4d: hand-written checkpointing with sqlite3 ---------------------------------
#
# As in the plait version, opening the database and creating the table are in the time.

_CREATE = "CREATE TABLE steps (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)"


def _sqlite_checkpoints(path: str) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(_CREATE)
    state = {"counter": 0}
    for i in range(CHAIN_STEPS):
        state["counter"] += 1
        conn.execute("BEGIN")
        conn.execute("INSERT INTO steps VALUES (?, ?)", (i, json.dumps(state)))
        conn.execute("COMMIT")
    conn.close()
    return state["counter"]


def _sqlite_chain(on_disk: bool) -> Rep:
    async def rep() -> Sample:
        folder = disk_db_dir() if on_disk else ""
        path = os.path.join(folder, "w4.db") if on_disk else shm_db_path("w4")
        remove_db(path)
        try:
            t0 = time.perf_counter()
            counter = _sqlite_checkpoints(path)
            dt = time.perf_counter() - t0
        finally:
            remove_db(path)
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        return Sample(dt / CHAIN_STEPS * 1e6, expect(counter, CHAIN_STEPS, "counter"))

    return rep


def w4() -> Rep:
    return _sqlite_chain(on_disk=False)


w4a = w4  # the same plain-driver baseline for plait's durability="async"


def w4d() -> Rep:
    return _sqlite_chain(on_disk=True)


# -- W4p: single-row INSERT + COMMIT with psycopg async --------------------------------


def w4p() -> Rep:
    import psycopg
    from psycopg import sql

    async def rep() -> Sample:
        schema = random_schema()
        try:
            t0 = time.perf_counter()
            async with await psycopg.AsyncConnection.connect(PG_DSN) as conn:
                await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                table = sql.Identifier(schema, "steps")
                await conn.execute(
                    sql.SQL(
                        "CREATE TABLE {} (seq INTEGER PRIMARY KEY, body JSONB NOT NULL)"
                    ).format(table)
                )
                await conn.commit()
                insert = sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(table)
                state = {"counter": 0}
                for i in range(CHAIN_STEPS):
                    state["counter"] += 1
                    await conn.execute(insert, (i, json.dumps(state)))
                    await conn.commit()
            dt = time.perf_counter() - t0
        finally:
            await drop_schema(schema)
        return Sample(dt / CHAIN_STEPS * 1e6, expect(state["counter"], CHAIN_STEPS, "counter"))

    return rep


# -- W8: read a 10,000-step event log back ---------------------------------------------


def _write_log(path: str, laps: int) -> int:
    """The shape of plait's log for a loop of ``laps`` steps (3 events each)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, "
        "ts REAL NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID"
    )
    rid = "0" * 24
    rows = []
    seq = 0
    for lap in range(laps):
        for kind, extra in (
            ("StepStarted", {"invocation": lap + 1, "attempt": 1}),
            ("StateChanged", {"changes": {"laps": lap + 1}, "removed": {"$tuple": []}}),
            ("StepCompleted", {"invocation": lap + 1, "output": "again", "duration": 3e-06}),
        ):
            seq += 1
            ts = time.time()
            body = {"v": 1, "type": kind, "run_id": rid, "seq": seq, "ts": ts, "step": "lap"}
            rows.append((rid, seq, kind, ts, json.dumps({**body, **extra})))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    return len(rows)


def w8() -> Rep:
    async def rep() -> Sample:
        path = shm_db_path("w8")
        remove_db(path)
        try:
            written = _write_log(path, RESUME_LAPS)
            t0 = time.perf_counter()
            conn = sqlite3.connect(path)
            cur = conn.execute("SELECT body FROM events WHERE run_id = ? ORDER BY seq", ("0" * 24,))
            events = [json.loads(body) for (body,) in cur]
            dt = time.perf_counter() - t0
            conn.close()
        finally:
            remove_db(path)
        return Sample(dt, expect(len(events), written, "events read"))

    return rep


# -- S1: a full-state snapshot per step (what checkpointing the whole state costs) ---


def s1() -> Rep:
    async def rep() -> Sample:
        path = shm_db_path("s1")
        remove_db(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_CREATE)
            state = {"blob": "x" * BIG_STATE_BYTES, "counter": 0}
            for i in range(CHAIN_STEPS):
                state["counter"] += 1
                conn.execute("INSERT INTO steps VALUES (?, ?)", (i, json.dumps(state)))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            size = os.path.getsize(path)
        finally:
            remove_db(path)
        return Sample(size / CHAIN_STEPS, expect(state["counter"], CHAIN_STEPS, "counter"))

    return rep


# -- W9: model calls through the agent layer (see benchmarks/_llm.py) -----------------


def w9() -> Rep:
    from benchmarks._llm import w9_baseline

    return w9_baseline()


def w9o() -> Rep:
    from benchmarks._llm import w9o_baseline

    return w9o_baseline()


def w9h() -> Rep:
    from benchmarks._llm import w9h_baseline

    return w9h_baseline()


w4pa = w4p  # the same plain-driver baseline for plait's durability="async"


# -- W1m, W3m, W5m: the same work on a pydantic model state --------------------------


@functools.cache
def _counter_type() -> Any:
    """The model state, made on first use: the other workloads' processes never import
    pydantic (M measures their memory, as plait's side does)."""
    from pydantic import BaseModel

    class _Counter(BaseModel):
        counter: int = 0

    return _Counter


def w1m() -> Rep:
    _Counter = _counter_type()

    async def step(state: Any) -> None:
        state.counter += 1

    async def rep() -> Sample:
        t0 = time.perf_counter()
        state = _Counter()
        for _ in range(CHAIN_STEPS):
            await step(state)
        dt = time.perf_counter() - t0
        return Sample(dt / CHAIN_STEPS * 1e6, expect(state.counter, CHAIN_STEPS, "counter"))

    return rep


def w3m() -> Rep:
    _Counter = _counter_type()

    async def body(state: Any) -> str:
        state.counter += 1
        return "again" if state.counter < LOOP_ITERATIONS else "done"

    async def rep() -> Sample:
        t0 = time.perf_counter()
        state = _Counter()
        while await body(state) == "again":
            pass
        dt = time.perf_counter() - t0
        out = state.counter
        return Sample(dt / LOOP_ITERATIONS * 1e6, expect(out, LOOP_ITERATIONS, "iterations"))

    return rep


def w5m() -> Rep:
    _Counter = _counter_type()

    async def rep() -> Sample:
        outs = []
        t0 = time.perf_counter()
        for _ in range(KICKOFFS):
            state = _Counter(counter=1)
            state.counter += 1
            state.counter += 1
            outs.append(await _next(await _next(await _one())))
        dt = time.perf_counter() - t0
        return Sample(KICKOFFS / dt, expect(sum(outs), 3 * KICKOFFS, "sum of outputs"))

    return rep
