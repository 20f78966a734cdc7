"""Choose a store by URL: ``memory://``, ``sqlite:///path.db``, ``postgresql://…``,
``redis://…`` (or ``$PLAIT_STORE``). Drivers load only when their URL is used."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit, urlunsplit

from plait import stores
from plait.core import PlaitError
from plait.runtime import Store
from plait.stores import MemoryStore, SqliteStore

SCHEMES = "memory://, sqlite:///path.db, postgresql://user@host/db, redis://host:6379/0"


def _pop_query(url: str, name: str) -> tuple[str, str | None]:
    """``url`` without the query parameter ``name``, and that parameter's value."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    value = query.pop(name, [None])[-1]
    rest = "&".join(f"{k}={v}" for k, vs in query.items() for v in vs)
    return urlunsplit(parts._replace(query=rest)), value


async def open_store(store: Store | str | None) -> Store:
    """A store from an object, a URL, ``$PLAIT_STORE`` or the default (in memory)."""
    if store is not None and not isinstance(store, str):
        return store
    url = store or os.environ.get("PLAIT_STORE") or "memory://"
    scheme = (url.split("://", 1)[0] if "://" in url else url).lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        path = url[len("sqlite://") :]
        if not path.startswith("/"):
            raise PlaitError(f"store URL {url!r}: write sqlite:///relative.db or sqlite:////abs.db")
        return SqliteStore(path[1:] or "runs.db")
    if scheme in ("postgresql", "postgres"):
        dsn, schema = _pop_query(url, "schema")
        return await stores.PostgresStore.connect(dsn, schema=schema or "plait")
    if scheme in ("redis", "rediss"):
        address, prefix = _pop_query(url, "prefix")
        return stores.RedisStore(address, prefix=prefix or "plait")
    raise PlaitError(f"unknown store URL {url!r}: use one of {SCHEMES}")
