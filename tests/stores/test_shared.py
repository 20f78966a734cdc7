"""RedisSharedState and PostgresSharedState against the real servers on 127.0.0.1.

Each test gets a fresh Redis key prefix or PostgreSQL schema, removed afterwards. The
atomicity test runs four separate processes plus in-process tasks, all incrementing one
counter through ``update``; the final count must equal the number of increments.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from plait.core import StoreError

REDIS_URL = "redis://127.0.0.1:6379/0"
PG_URL = os.environ.get("PLAIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

BACKENDS = [
    pytest.param(
        "redis",
        marks=[
            pytest.mark.redis,
            pytest.mark.skipif(
                os.environ.get("PLAIT_TEST_NO_REDIS") == "1", reason="PLAIT_TEST_NO_REDIS=1"
            ),
        ],
    ),
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                os.environ.get("PLAIT_TEST_NO_POSTGRES") == "1",
                reason="PLAIT_TEST_NO_POSTGRES=1",
            ),
        ],
    ),
]


class Target:
    """One backend at one fresh place (a Redis prefix or a PostgreSQL schema)."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.where = f"plait_test_{uuid.uuid4().hex[:12]}"

    def make(self, **options: Any) -> Any:
        if self.backend == "redis":
            from plait.stores import RedisSharedState

            return RedisSharedState(REDIS_URL, prefix=self.where, **options)
        from plait.stores import PostgresSharedState

        return PostgresSharedState(PG_URL, schema=self.where, max_size=4, **options)

    def raw_set(self, key: str, value: Any) -> None:
        """Write ``value`` behind the states' backs: no version bump seen by caches, no
        notification (a synchronous client, so it can run inside an update's ``fn``)."""
        text = json.dumps(value)
        if self.backend == "redis":
            import redis

            with redis.Redis.from_url(REDIS_URL) as client:
                client.set(f"{self.where}:shared:{key}", text, keepttl=True)
            return
        import psycopg
        from psycopg import sql

        query = sql.SQL(
            "UPDATE {}.shared_state SET value = %s::jsonb, version = version + 1 WHERE key = %s"
        ).format(sql.Identifier(self.where))
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(query, (text, key))

    def cleanup(self) -> None:
        if self.backend == "redis":
            import redis

            with redis.Redis.from_url(REDIS_URL) as client:
                keys = list(client.scan_iter(match=f"{self.where}:*", count=500))
                if keys:
                    client.delete(*keys)
            return
        import psycopg
        from psycopg import sql

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.where))
            )


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    made = Target(request.param)
    yield made
    made.cleanup()


async def eventually(
    read: Callable[[], Awaitable[Any]], expected: Any, within: float = 5.0
) -> None:
    """Poll ``read`` until it returns ``expected``; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await read()
        if value == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {within}s, expected {expected!r}")
        await asyncio.sleep(0.01)


def test_get_set_delete_round_trip(target: Target) -> None:
    async def main() -> None:
        async with target.make() as state:
            assert await state.get("missing") is None
            assert await state.get("missing", 7) == 7
            value = {"n": 1, "items": [1, 2.5, "x", None], "t": (1, 2), "b": b"\x00"}
            await state.set("k", value)
            assert await state.get("k") == value
            await state.set("k", "replaced")
            assert await state.get("k") == "replaced"
            assert await state.delete("k") is True
            assert await state.delete("k") is False
            assert await state.get("k", "gone") == "gone"
            with pytest.raises(StoreError, match="shared state 'bad'"):
                await state.set("bad", object())
            with pytest.raises(StoreError, match="ttl"):
                await state.set("k", 1, ttl=0)

    asyncio.run(main())


def test_ttl_expires_and_update_keeps_or_sets_it(target: Target) -> None:
    async def main() -> None:
        async with target.make() as state:
            await state.set("t", "x", ttl=0.3)
            await state.set("forever", "y")
            assert await state.get("t") == "x"
            await eventually(lambda: state.get("t", "gone"), "gone")
            assert await state.get("forever") == "y"

            # update with ttl=None keeps the remaining TTL ...
            await state.set("c", 1, ttl=0.3)
            assert await state.update("c", lambda v: v + 1) == 2
            await eventually(lambda: state.get("c", "gone"), "gone")
            # ... and an expired key reads as absent to update as well
            assert await state.update("c", lambda v: v + 1, default=0, ttl=0.3) == 1
            await eventually(lambda: state.get("c", "gone"), "gone")
            assert await state.update("c", lambda v: v + 1, default=10) == 11
            assert await state.get("c") == 11
            assert await state.delete("t") is False  # expired: not there to delete

    asyncio.run(main())


WORKER = """
import asyncio, sys, time
from pathlib import Path

backend, url, where, key, count, go = sys.argv[1:7]

async def main():
    if backend == "redis":
        from plait.stores import RedisSharedState
        state = RedisSharedState(url, prefix=where)
    else:
        from plait.stores import PostgresSharedState
        state = PostgresSharedState(url, schema=where, max_size=1)
    async with state:
        deadline = time.monotonic() + 60
        while not Path(go).exists():  # start together, for as much contention as possible
            if time.monotonic() > deadline:
                sys.exit("no start signal")
            time.sleep(0.002)
        for _ in range(int(count)):
            await state.update(key, lambda v: v + 1, default=0)

asyncio.run(main())
"""


@pytest.mark.slow
def test_concurrent_updates_from_processes_and_tasks_lose_nothing(
    target: Target, tmp_path: Path
) -> None:
    processes, tasks, each = 4, 4, 50
    go = tmp_path / "go"
    url = REDIS_URL if target.backend == "redis" else PG_URL
    args = [target.backend, url, target.where, "counter", str(each), str(go)]
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, *args], stderr=subprocess.PIPE)
        for _ in range(processes)
    ]

    async def main() -> list[int]:
        async with target.make() as state:
            await state.get("counter")  # opened (table made) before the start
            go.touch()

            async def increments() -> list[int]:
                return [
                    await state.update("counter", lambda v: v + 1, default=0) for _ in range(each)
                ]

            seen = [
                n
                for batch in await asyncio.gather(*(increments() for _ in range(tasks)))
                for n in batch
            ]
            for worker in workers:
                _, err = await asyncio.to_thread(worker.communicate, timeout=120)
                assert worker.returncode == 0, err.decode()
            assert await state.get("counter") == (processes + tasks) * each
            return seen

    try:
        seen = asyncio.run(main())
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    # every in-process update saw its own, distinct result: none was applied twice
    assert len(set(seen)) == len(seen) == tasks * each


def test_update_gives_up_under_contention(target: Target) -> None:
    calls: list[int] = []

    def meddle(old: int) -> int:
        calls.append(old)
        target.raw_set("k", 100 + len(calls))  # another writer wins every time
        return old + 1

    async def main() -> None:
        async with target.make(max_attempts=3) as state:
            await state.set("k", 0)
            with pytest.raises(StoreError, match="contention"):
                await state.update("k", meddle)
            assert len(calls) == 3
            assert await state.get("k") == 103  # the other writer's value, ours never landed
            with pytest.raises(ZeroDivisionError):  # fn's own errors pass through unchanged
                await state.update("k", lambda v: v / 0)

    asyncio.run(main())


def test_cache_is_invalidated_by_another_client(target: Target) -> None:
    async def main() -> None:
        async with target.make(cache=True) as cached, target.make() as other:
            await cached.set("k", 1)
            assert await cached.get("k") == 1
            target.raw_set("k", 2)  # no notification: the cached value is still served
            assert await cached.get("k") == 1

            await other.set("k", 3)
            await eventually(lambda: cached.get("k"), 3)
            await other.update("k", lambda v: v + 1)
            await eventually(lambda: cached.get("k"), 4)
            await other.delete("k")
            await eventually(lambda: cached.get("k", "gone"), "gone")
            await other.set("k", 5)  # a cached absence is invalidated too
            await eventually(lambda: cached.get("k"), 5)

            # writes through the caching state update its cache at once
            assert await cached.update("k", lambda v: v * 10) == 50
            assert await cached.get("k") == 50
            assert await other.get("k") == 50
            # a returned value is a copy: mutating it does not change the cache
            await cached.set("d", {"a": [1]})
            (await cached.get("d"))["a"].append(2)
            assert await cached.get("d") == {"a": [1]}

    asyncio.run(main())


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreachable_server_is_a_store_error(backend: str) -> None:
    async def main() -> None:
        if backend == "redis":
            from plait.stores import RedisSharedState

            state: Any = RedisSharedState("redis://127.0.0.1:1/0", connect_timeout=1)
            message = "(?s)cannot reach Redis at redis://127.0.0.1:1/0.*server is running"
        else:
            from plait.stores import PostgresSharedState

            state = PostgresSharedState("postgresql://postgres@127.0.0.1:1/test")
            message = "(?s)cannot connect to PostgreSQL at 127.0.0.1:1.*server is running"
        with pytest.raises(StoreError, match=message):
            await state.get("k")
        await state.close()

    asyncio.run(main())


def test_import_plait_stores_loads_no_driver() -> None:
    code = (
        "import sys, plait.stores; "
        "assert not {'redis', 'psycopg'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
