"""L4: stores that keep runs and their event logs.

``PostgresStore``, ``RedisStore`` and the shared states (``PostgresSharedState``,
``RedisSharedState``) load on first use, so ``import plait.stores`` does
not import their drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from plait.stores._memory import MemoryStore
from plait.stores._sqlite import SqliteStore
from plait.stores._tail import FINAL_STATUSES, tail
from plait.stores._values import CORRUPT

__all__ = [
    "CORRUPT",
    "FINAL_STATUSES",
    "MemoryStore",
    "PostgresSharedState",
    "PostgresStore",
    "RedisSharedState",
    "RedisStore",
    "SqliteStore",
    "tail",
]

_LAZY = {
    "PostgresStore": "plait.stores._postgres",
    "RedisStore": "plait.stores._redis",
    "PostgresSharedState": "plait.stores._shared_postgres",
    "RedisSharedState": "plait.stores._shared_redis",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'plait.stores' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from plait.stores._postgres import PostgresStore
    from plait.stores._redis import RedisStore
    from plait.stores._shared_postgres import PostgresSharedState
    from plait.stores._shared_redis import RedisSharedState
