"""Conformance cases for leases and the step cache (see :mod:`plait.testing.conformance`)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from plait.testing._conformance_base import (
    Sample,
    StoreFactory,
    _expect_store_error,
    _finished,
    _record,
)


async def lease_acquire_renew_release(factory: StoreFactory) -> None:
    """One owner at a time; the holder renews; ``release`` by another does nothing;
    ``get_run``/``list_runs`` show the lease."""
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        got = await store.get_run("r1")
        assert got is not None and (got.owner, got.lease_until) == ("", 0.0)
        before = time.time()
        assert await store.acquire("r1", "a", 30.0) is True
        got = await store.get_run("r1")
        assert got is not None and got.owner == "a"
        assert before + 30.0 <= got.lease_until <= time.time() + 30.0
        assert await store.acquire("r1", "b", 30.0) is False
        assert await store.get_run("r1") == got
        assert await store.acquire("r1", "a", 60.0) is True  # renewed
        renewed = await store.get_run("r1")
        assert renewed is not None and renewed.lease_until >= got.lease_until + 29.0
        await store.release("r1", "b")
        assert await store.get_run("r1") == renewed
        await store.release("r1", "a")
        got = await store.get_run("r1")
        assert got is not None and (got.owner, got.lease_until) == ("", 0.0)
        await store.release("r1", "a")  # not held: nothing happens
        assert await store.acquire("r1", "b", 30.0) is True
        [listed] = await store.list_runs()
        assert listed.owner == "b" and listed.lease_until > time.time()
        assert listed.status == "running"  # the lease leaves the rest of the run alone
    finally:
        await store.close()


async def run_created_with_its_lease_is_held(factory: StoreFactory) -> None:
    """A run created with an owner and ``lease_until`` is that owner's from the start
    (how the engine starts a run: no acquire after the create)."""
    store = await factory.new()
    try:
        until = time.time() + 30.0
        await store.create_run(dataclasses.replace(_record("r1"), owner="a", lease_until=until))
        got = await store.get_run("r1")
        assert got is not None and (got.owner, got.lease_until) == ("a", until)
        assert await store.acquire("r1", "b", 30.0) is False
        assert await store.acquire("r1", "a", 60.0) is True  # the holder renews
        await store.release("r1", "a")
        got = await store.get_run("r1")
        assert got is not None and (got.owner, got.lease_until) == ("", 0.0)
    finally:
        await store.close()


async def lease_expires(factory: StoreFactory) -> None:
    """Once the holder's ``lease_until`` has passed, another owner may take the run."""
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        assert await store.acquire("r1", "a", -1.0) is True  # an already expired lease
        got = await store.get_run("r1")
        assert got is not None and got.owner == "a" and got.lease_until < time.time()
        assert await store.acquire("r1", "b", 0.05) is True
        assert await store.acquire("r1", "c", 30.0) is False
        await asyncio.sleep(0.1)
        assert await store.acquire("r1", "c", 30.0) is True
        await store.release("r1", "b")  # the old holder's release changes nothing
        got = await store.get_run("r1")
        assert got is not None and got.owner == "c"
    finally:
        await store.close()


async def concurrent_acquire_has_one_winner(factory: StoreFactory) -> None:
    """Ten owners acquire at once: exactly one wins (durable stores: through two store
    objects too, as two processes would)."""
    store = await factory.new()
    stores = [store]
    try:
        if factory.durable:
            stores.append(await factory.reopen())
        for run_id in ("r1", "r2"):
            await store.create_run(_record(run_id))
            owners = [f"owner{i}" for i in range(10)]
            results = await asyncio.gather(
                *(stores[i % len(stores)].acquire(run_id, o, 30.0) for i, o in enumerate(owners))
            )
            assert sum(results) == 1, results
            got = await stores[-1].get_run(run_id)
            assert got is not None and got.owner == owners[results.index(True)]
    finally:
        for opened in stores:
            await opened.close()


async def lease_takeover_with_replace(factory: StoreFactory) -> None:
    """``replace=`` takes a live lease from the holder it names, and only from it."""
    store = await factory.new()
    try:
        await store.create_run(_record("r1"))
        assert await store.acquire("r1", "a", 30.0) is True
        assert await store.acquire("r1", "b", 30.0, replace="x") is False  # x holds nothing
        assert await store.acquire("r1", "b", 30.0, replace="a") is True
        got = await store.get_run("r1")
        assert got is not None and got.owner == "b"
        assert await store.acquire("r1", "c", 30.0, replace="a") is False  # a lost it
        results = await asyncio.gather(
            *(store.acquire("r1", f"t{i}", 30.0, replace="b") for i in range(5))
        )
        assert sorted(results) == [False] * 4 + [True]  # one takeover wins
    finally:
        await store.close()


async def lease_of_unknown_run_is_refused(factory: StoreFactory) -> None:
    """``acquire``/``release`` of an unknown run raise; a deleted or pruned run's lease
    goes with it."""
    store = await factory.new()
    try:
        await _expect_store_error(store.acquire("nope", "a", 30.0))
        await _expect_store_error(store.release("nope", "a"))
        await store.create_run(_record("r1"))
        assert await store.acquire("r1", "a", 30.0) is True
        assert await store.delete_run("r1") is True
        await _expect_store_error(store.acquire("r1", "a", 30.0))
        await _expect_store_error(store.release("r1", "a"))
        await store.create_run(_record("r1"))
        got = await store.get_run("r1")
        assert got is not None and (got.owner, got.lease_until) == ("", 0.0)
        await store.create_run(_finished("done", at=1.0))
        assert await store.acquire("done", "a", 30.0) is True
        assert await store.prune(older_than=2.0) == 1
        await _expect_store_error(store.acquire("done", "b", 30.0))
    finally:
        await store.close()


async def cache_round_trip(factory: StoreFactory) -> None:
    """Cached values come back as they went in (models, tuples, bytes); a put replaces
    the key's value; an absent key is None; durable stores share the cache."""
    store = await factory.new()
    try:
        assert await store.cache_get("k") is None
        value = {"model": Sample(title="t", tags=["a"]), "pair": (1, "b"), "raw": b"\x00\xff"}
        before = time.time()
        await store.cache_put("k", value)
        entry = await store.cache_get("k")
        assert entry is not None and entry.value == value
        assert isinstance(entry.value["model"], Sample)
        assert before <= entry.created_at <= time.time()
        for key, plain in [("tuple", (1, ("x", None))), ("bytes", b"\x01"), ("text", "é✓")]:
            await store.cache_put(key, plain)
            got = await store.cache_get(key)
            assert got is not None and got.value == plain and type(got.value) is type(plain)
        await store.cache_put("k", Sample(title="new"))
        entry = await store.cache_get("k")
        assert entry is not None and entry.value == Sample(title="new")
        if factory.durable:
            again = await factory.reopen()
            try:
                shared = await again.cache_get("k")
                assert shared is not None and shared.value == Sample(title="new")
            finally:
                await again.close()
    finally:
        await store.close()


async def cache_entries_expire(factory: StoreFactory) -> None:
    """An entry with a ttl is gone once it has passed; None means never."""
    store = await factory.new()
    try:
        await store.cache_put("short", 1, ttl=0.05)
        await store.cache_put("gone", 2, ttl=-1.0)
        await store.cache_put("forever", 3)
        await store.cache_put("renewed", 4, ttl=0.05)
        await store.cache_put("renewed", 5)  # a put without a ttl never expires
        got = await store.cache_get("short")
        assert got is not None and got.value == 1
        assert await store.cache_get("gone") is None
        await asyncio.sleep(0.1)
        assert await store.cache_get("short") is None
        for key, value in [("forever", 3), ("renewed", 5)]:
            got = await store.cache_get(key)
            assert got is not None and got.value == value
        await store.cache_put("short", 6, ttl=30.0)
        got = await store.cache_get("short")
        assert got is not None and got.value == 6
    finally:
        await store.close()


async def unserialisable_cache_value_is_refused(factory: StoreFactory) -> None:
    """A value the codec cannot hold raises a StoreError naming the key and leaves the
    key as it was."""
    store = await factory.new()
    try:
        await store.cache_put("step:k1", {"n": 1})
        error = await _expect_store_error(store.cache_put("step:k1", {"handle": object()}))
        assert "step:k1" in str(error)
        got = await store.cache_get("step:k1")
        assert got is not None and got.value == {"n": 1}
        await _expect_store_error(store.cache_put("step:k2", [1, object()], ttl=30.0))
        assert await store.cache_get("step:k2") is None
    finally:
        await store.close()
