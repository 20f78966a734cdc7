"""RedisStore passes the store conformance suite against the real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator

import pytest

if os.environ.get("PLAIT_TEST_NO_REDIS") == "1":
    pytest.skip("Redis is not installed (PLAIT_TEST_NO_REDIS=1)", allow_module_level=True)

import redis.asyncio as aioredis

from plait.core import StoreError
from plait.runtime import RunRecord, StepStarted, Store
from plait.stores._redis import RedisStore
from plait.testing import conformance

pytestmark = pytest.mark.redis

URL = "redis://127.0.0.1:6379/0"


async def _delete_keys(prefix: str) -> None:
    client = aioredis.Redis.from_url(URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted afterwards."""
    name = f"plait-test-{uuid.uuid4().hex}"
    yield name
    asyncio.run(_delete_keys(name))


class RedisFactory:
    durable = True

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    async def new(self) -> Store:
        return RedisStore(URL, prefix=self.prefix)

    async def reopen(self) -> Store:
        return RedisStore(URL, prefix=self.prefix)


@pytest.mark.parametrize("case", conformance.CASES, ids=lambda c: c.__name__)
def test_redis_store_conforms(
    case: Callable[[conformance.StoreFactory], Awaitable[None]], prefix: str
) -> None:
    asyncio.run(case(RedisFactory(prefix)))


def test_unreachable_server_says_what_to_check() -> None:
    async def main() -> None:
        store = RedisStore("redis://127.0.0.1:1/0", prefix="unused")
        try:
            with pytest.raises(StoreError, match=r"cannot reach Redis at redis://127\.0\.0\.1:1/0"):
                await store.get_run("r1")
            with pytest.raises(StoreError, match="server is running"):
                await store.create_run(RunRecord(run_id="r1", flow="f"))
        finally:
            await store.close()
            await store.close()  # idempotent

    asyncio.run(main())


def test_password_is_not_shown_in_errors() -> None:
    async def main() -> None:
        store = RedisStore("redis://user:s3cret@127.0.0.1:1/0", prefix="unused")
        try:
            with pytest.raises(StoreError) as info:
                await store.get_run("r1")
        finally:
            await store.close()
        assert "s3cret" not in str(info.value) and "user:***@127.0.0.1:1" in str(info.value)

    asyncio.run(main())


def test_corrupted_entry_fails_read_naming_run_and_seq(prefix: str) -> None:
    async def main() -> None:
        store = RedisStore(URL, prefix=prefix)
        raw = aioredis.Redis.from_url(URL)
        try:
            await store.create_run(RunRecord(run_id="r1", flow="f"))
            await store.append(
                "r1", [StepStarted(run_id="r1", seq=1, ts=1.0, step="s", invocation=1)]
            )
            await raw.xadd(f"{prefix}:events:r1", {"e": "{not json"}, id="2-0")
            with pytest.raises(StoreError, match=r"run r1: stored event #2 .*corrupted"):
                await store.read("r1")
            with pytest.raises(StoreError, match="#2"):
                await store.read("r1", after=1)
            assert await store.read("r1", after=2) == []  # reads past the bad entry still work
        finally:
            await raw.aclose()
            await store.close()

    asyncio.run(main())


def test_batch_that_skips_behind_stored_log_stores_nothing(prefix: str) -> None:
    async def main() -> None:
        store = RedisStore(URL, prefix=prefix)
        try:
            await store.create_run(RunRecord(run_id="r1", flow="f"))
            first = [
                StepStarted(run_id="r1", seq=s, ts=1.0, step="s", invocation=1) for s in (1, 2)
            ]
            await store.append("r1", first)
            late = [StepStarted(run_id="r1", seq=s, ts=1.0, step="s", invocation=1) for s in (2, 3)]
            with pytest.raises(StoreError, match="does not follow #2"):
                await store.append("r1", late)
            assert await store.read("r1") == first
        finally:
            await store.close()

    asyncio.run(main())


def test_concurrent_appends_to_one_run_keep_one_log(prefix: str) -> None:
    """Two writers race on the same run: each seq is stored once, the loser is refused."""

    async def main() -> None:
        stores = [RedisStore(URL, prefix=prefix) for _ in range(2)]
        try:
            await stores[0].create_run(RunRecord(run_id="r1", flow="f"))
            batch = [
                StepStarted(run_id="r1", seq=s, ts=1.0, step="s", invocation=1) for s in (1, 2, 3)
            ]
            results = await asyncio.gather(
                *(s.append("r1", batch) for s in stores), return_exceptions=True
            )
            assert sum(isinstance(r, StoreError) for r in results) == 1
            assert await stores[0].read("r1") == batch
        finally:
            for store in stores:
                await store.close()

    asyncio.run(main())


def test_closed_store_refuses_calls(prefix: str) -> None:
    async def main() -> None:
        store = RedisStore(URL, prefix=prefix)
        await store.close()
        with pytest.raises(StoreError, match="closed"):
            await store.get_run("r1")

    asyncio.run(main())


def test_run_written_before_leases_can_be_leased(prefix: str) -> None:
    """A run hash without ``owner``/``lease_until`` (an older plait) reads as unowned."""

    async def main() -> None:
        store = RedisStore(URL, prefix=prefix)
        raw = aioredis.Redis.from_url(URL)
        try:
            await store.create_run(RunRecord(run_id="r1", flow="f"))
            await raw.hdel(f"{prefix}:run:r1", "owner", "lease_until")
            got = await store.get_run("r1")
            assert got is not None and (got.owner, got.lease_until) == ("", 0.0)
            assert await store.acquire("r1", "me", 30.0) is True
            assert await store.acquire("r1", "you", 30.0) is False
        finally:
            await raw.aclose()
            await store.close()

    asyncio.run(main())


def test_cache_keys_live_under_the_prefix_with_a_redis_expiry(prefix: str) -> None:
    async def main() -> None:
        store = RedisStore(URL, prefix=prefix)
        raw = aioredis.Redis.from_url(URL)
        try:
            await store.cache_put("k", 1, ttl=30.0)
            await store.cache_put("forever", 2)
            assert 0 < await raw.pttl(f"{prefix}:cache:k") <= 30_000
            assert await raw.pttl(f"{prefix}:cache:forever") == -1  # no expiry
            await raw.set(f"{prefix}:cache:bad", "{not json")
            with pytest.raises(StoreError, match=r"'bad'.*corrupted"):
                await store.cache_get("bad")
        finally:
            await raw.aclose()
            await store.close()

    asyncio.run(main())
