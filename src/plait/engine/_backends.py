"""Choose a store by URL: ``memory://``, ``sqlite:///path.db``, ``postgresql://…``,
``redis://…`` (or ``$PLAIT_STORE``). Drivers load only when their URL is used.

Retention: ``?retention=30d`` on any store URL (or ``$PLAIT_RETENTION``) deletes finished
runs (completed, failed, cancelled) last updated longer ago than that, with their events,
when a process first opens the store, and again at most once an hour. Running and waiting
runs are never deleted.
"""

from __future__ import annotations

import logging
import os
import time
from urllib.parse import parse_qs, urlsplit, urlunsplit

from plait import stores
from plait.core import PlaitError, parse_duration
from plait.runtime import Store
from plait.stores import MemoryStore, SqliteStore

SCHEMES = "memory://, sqlite:///path.db, postgresql://user@host/db, redis://host:6379/0"
RETENTION_EVERY = 3600.0
"""Seconds between two retention passes over one store in one process."""

log = logging.getLogger("plait")
_last_pass: dict[str, float] = {}


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
    url, keep = _retention(store or os.environ.get("PLAIT_STORE") or "memory://")
    keep = keep or os.environ.get("PLAIT_RETENTION") or None
    if keep is not None:
        try:
            seconds = parse_duration(keep)
        except ValueError as exc:
            raise PlaitError(f"store retention: {exc}") from None
    opened = await _open(url)
    if keep is not None:
        await _retain(opened, url, seconds)
    return opened


def _retention(url: str) -> tuple[str, str | None]:
    """``url`` without its ``retention=`` query parameter, and that parameter."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, None
    keep: str | None = None
    rest = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "retention":
            keep = value
        elif pair:
            rest.append(pair)
    return (base + "?" + "&".join(rest) if rest else base), keep


async def _retain(store: Store, url: str, seconds: float) -> None:
    now = time.time()
    if now - _last_pass.get(url, 0.0) < RETENTION_EVERY:
        return
    _last_pass[url] = now
    gone = await store.prune(older_than=now - seconds)
    if gone:
        log.info("plait: retention deleted %d finished runs older than %g s", gone, seconds)


async def _open(url: str) -> Store:
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
