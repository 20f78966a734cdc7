"""Fixtures for the engine tests: fresh durable stores on the real servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def drop_postgres_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def drop_redis_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
    finally:
        client.close()


def fresh_store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A URL of a fresh store of ``kind`` (sqlite, postgres, redis), removed afterwards;
    skips when the server is marked not installed (never on CI, see scripts/test)."""
    tag = uuid.uuid4().hex[:12]
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/runs.db"
    elif kind == "postgres":
        if os.environ.get("PLAIT_TEST_NO_POSTGRES"):
            pytest.skip("PostgreSQL is not installed here (PLAIT_TEST_NO_POSTGRES)")
        schema = f"plait_test_{tag}"
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/test?schema={schema}"
        finally:
            drop_postgres_schema(schema)
    else:
        if os.environ.get("PLAIT_TEST_NO_REDIS"):
            pytest.skip("Redis is not installed here (PLAIT_TEST_NO_REDIS)")
        prefix = f"plait-test-{tag}"
        try:
            yield f"redis://127.0.0.1:6379/0?prefix={prefix}"
        finally:
            drop_redis_prefix(prefix)


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL of each durable kind, on a fresh location, removed afterwards."""
    yield from fresh_store_url(request.param, tmp_path)
