"""Choose backends by URL: ``memory://`` today; durable stores plug in here."""

from __future__ import annotations

import os

from plait.core import PlaitError
from plait.runtime import Store
from plait.stores import MemoryStore


def open_store(store: Store | str | None) -> Store:
    """A store from an object, a URL, ``$PLAIT_STORE`` or the default (in memory)."""
    if store is not None and not isinstance(store, str):
        return store
    url = store or os.environ.get("PLAIT_STORE") or "memory://"
    scheme = url.split("://", 1)[0] if "://" in url else url
    if scheme == "memory":
        return MemoryStore()
    raise PlaitError(
        f"unknown store URL {url!r}: this plait knows memory:// (durable stores — "
        "sqlite://, postgresql://, redis:// — are not built yet)"
    )
