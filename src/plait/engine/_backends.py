"""Choose a store by URL: ``memory://``, ``sqlite:///path.db``, ``postgresql://…``,
``redis://…`` (or ``$PLAIT_STORE``), or any scheme another package registers (see
:mod:`plait.engine._schemes`). Drivers load only when their URL is used.

Retention: ``?retention=30d`` on any store URL (or ``$PLAIT_RETENTION``) deletes finished
runs (completed, failed, cancelled) last updated longer ago than that, with their events,
when a process first opens the store, and again at most once an hour. Running and waiting
runs are never deleted.

URLs are parsed as URLs: plait takes out its own options (``retention``, and those the
scheme declares: ``schema`` for PostgreSQL, ``prefix`` for Redis) and hands the driver
every other one exactly as written (``?options=-c%20statement_timeout%3D5000``,
``?application_name=a%26b``). A URL that does not parse, an option PostgreSQL's driver
does not know, and any option on ``sqlite:///`` or ``memory://`` are refused with a
:class:`~plait.core.StoreError`; percent-encode ``?``, ``#`` and ``%`` in a SQLite file
name and in passwords. Messages show the URL with its password masked
(:func:`~plait.core.mask_url`).

:func:`owned_store` opens a URL for the length of a ``with`` block and closes it after;
a store object passed in is used as is and left open.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from plait import stores
from plait.core import PlaitError, StoreError, mask_secrets, mask_url, parse_duration
from plait.engine._schemes import examples, find_scheme, register_store_scheme
from plait.runtime import Event, RunRecord, Store, check_events, surely_storable, to_json_value
from plait.stores import MemoryStore, SqliteStore

RETENTION_EVERY = 3600.0
"""Seconds between two retention passes over one store in one process."""

log = logging.getLogger("plait")
_last_pass: dict[str, float] = {}


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A store URL taken apart: ``kind`` is its scheme (lowercase), ``rest`` the URL the
    backend gets (plait's own options removed, everything else exactly as written) and
    ``options`` plait's own and those the scheme declares, decoded."""

    kind: str
    url: str
    rest: str
    options: dict[str, str] = field(default_factory=dict)


def parse_store_url(url: str) -> StoreURL:
    """``url`` taken apart, or a :class:`StoreError` saying what in it is not understood
    (the URL shown with its password masked)."""
    shown = mask_url(url)
    if "://" not in url:
        if url.strip().lower() == "memory":
            return StoreURL("memory", url, "memory://")
        raise StoreError(f"unknown store URL {shown!r}: use one of {examples()}")
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number in 0-65535 raises here
    except ValueError as exc:
        raise StoreError(
            f"store URL {shown!r} is not a valid URL ({exc}); percent-encode special "
            f"characters in the user name and password (@ as %40, / as %2F), and write it "
            f"as one of {examples()}"
        ) from None
    kind = parts.scheme.lower()
    scheme = find_scheme(kind, shown)
    if parts.fragment or url.endswith("#"):
        raise StoreError(
            f"store URL {shown!r} has a #fragment, which no store reads; percent-encode a "
            "# in a password as %23"
        )
    own = ("retention", *scheme.options)
    base = url.partition("#")[0].partition("?")[0]
    kept: list[str] = []
    options: dict[str, str] = {}
    for pair in parts.query.split("&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition("=")
        name = unquote(raw_name)
        if name in own:
            options[name] = unquote(raw_value)
        else:
            kept.append(pair)  # as written: the backend decodes it
    rest = base + ("?" + "&".join(kept) if kept else "")
    return StoreURL(kind, url, rest, options)


class RunOwnStore(MemoryStore):
    """The store of one run given no store, or a ``memory://`` URL: a new one for that
    run, which nothing else can reach. So it keeps nothing of the run (the run keeps its
    events itself: ``flow.events``) and only checks that what the run would store could be
    stored, as every store does, so that a flow that runs in memory runs on every store.
    Its cache is a MemoryStore's."""

    async def create_run(self, record: RunRecord) -> None:
        if record.inputs and not surely_storable(record.inputs, 0):
            to_json_value(record.inputs, f"run {record.run_id} inputs")

    async def append(self, run_id: str, events: Sequence[Event]) -> None:
        check_events(events)

    def append_now(self, run_id: str, events: Sequence[Event]) -> bool:
        check_events(events)
        return True

    async def set_status(self, run_id: str, status: str, *, error: str = "") -> None:
        return None


async def open_store(store: Store | str | None, *, for_one_run: bool = False) -> Store:
    """A store from an object, a URL, ``$PLAIT_STORE`` or the default (in memory).
    ``for_one_run``: an in-memory store is a :class:`RunOwnStore`, for one run only."""
    if store is not None and not isinstance(store, str):
        return store
    url = store or os.environ.get("PLAIT_STORE") or "memory://"
    if url == "memory://" and not os.environ.get("PLAIT_RETENTION"):
        if for_one_run:
            return RunOwnStore()
        return MemoryStore()  # the default: nothing to parse
    where = parse_store_url(url)
    keep = where.options.get("retention") or os.environ.get("PLAIT_RETENTION") or None
    if keep is not None:
        try:
            seconds = parse_duration(keep)
        except ValueError as exc:
            raise PlaitError(f"store retention: {exc}") from None
    opened = await _open(where)
    if keep is not None:
        await _retain(opened, url, seconds)
    return opened


async def _retain(store: Store, url: str, seconds: float) -> None:
    now = time.time()
    if now - _last_pass.get(url, 0.0) < RETENTION_EVERY:
        return
    _last_pass[url] = now
    gone = await store.prune(older_than=now - seconds)
    if gone:
        log.info("plait: retention deleted %d finished runs older than %g s", gone, seconds)


async def _open(where: StoreURL) -> Store:
    opened = find_scheme(where.kind, mask_url(where.url)).open(where)
    if inspect.isawaitable(opened):
        opened = await opened
    if not isinstance(opened, Store):
        raise StoreError(
            f"store URL {mask_url(where.url)!r}: the opener of scheme {where.kind!r} gave "
            f"{type(opened).__name__}, which is not a store (plait.runtime.Store)"
        )
    return opened


class owned_store:
    """The store for ``store`` (as :func:`open_store` finds it) for the ``async with``
    block. One it opened (from a URL, ``$PLAIT_STORE`` or the default) is closed when the
    block ends; a store object passed in is left open. (A class, not
    ``@asynccontextmanager``: it is on every run's path, and costs a third as much.)"""

    __slots__ = ("_given", "_one_run", "_opened")

    def __init__(self, store: Store | str | None, *, for_one_run: bool = False) -> None:
        self._given = store
        self._one_run = for_one_run
        self._opened: Store | None = None

    async def __aenter__(self) -> Store:
        given = self._given
        if given is not None and not isinstance(given, str):
            return given
        self._opened = await open_store(given, for_one_run=self._one_run)
        return self._opened

    async def __aexit__(self, *exc_info: object) -> None:
        if self._opened is not None:
            opened, self._opened = self._opened, None
            await opened.close()


def _open_memory(where: StoreURL) -> Store:
    _no_options(where, "memory://")
    parts = urlsplit(where.rest)
    if parts.netloc or parts.path:
        raise StoreError(
            f"store URL {mask_url(where.url)!r}: an in-memory store has no host or "
            "path; write memory://"
        )
    return MemoryStore()


def _open_sqlite(where: StoreURL) -> Store:
    return SqliteStore(_sqlite_path(where))


async def _open_postgres(where: StoreURL) -> Store:
    _check_postgres(where)
    return await stores.PostgresStore.connect(
        where.rest, schema=where.options.get("schema") or "plait"
    )


def _open_redis(where: StoreURL) -> Store:
    return stores.RedisStore(where.rest, prefix=where.options.get("prefix") or "plait")


def _sqlite_path(where: StoreURL) -> str:
    _no_options(where, "sqlite:///path.db")
    parts = urlsplit(where.rest)
    if parts.netloc or not parts.path.startswith("/"):
        raise StoreError(
            f"store URL {mask_url(where.url)!r}: write sqlite:///relative.db or sqlite:////abs.db"
        )
    return unquote(parts.path[1:]) or "runs.db"


def _no_options(where: StoreURL, form: str) -> None:
    """Refuse query options a store does not read (``sqlite:///x.db?mode=ro`` would
    otherwise name a file ``x.db?mode=ro``, or be ignored)."""
    query = urlsplit(where.rest).query
    if not query:
        return
    names = sorted({unquote(pair.partition("=")[0]) for pair in query.split("&") if pair})
    raise StoreError(
        f"store URL {mask_url(where.url)!r}: {form} takes no option "
        f"{', '.join(repr(n) for n in names)} (only retention=); remove it, or "
        "percent-encode a ? in a file name as %3F"
    )


def _check_postgres(where: StoreURL) -> None:
    """Refuse, before connecting, what PostgreSQL's driver does not understand: it would
    otherwise fail as if the server were unreachable."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return  # PostgresStore names the extra to install
    try:
        conninfo_to_dict(where.rest)
    except Exception as exc:  # psycopg.Error, from parsing alone
        raise StoreError(
            f"store URL {mask_url(where.url)!r} is not one PostgreSQL understands: "
            f"{mask_secrets(' '.join(str(exc).split()))}; write postgresql://user:password@"
            "host:5432/db?option=value, percent-encoding special characters in values "
            "(& as %26, space as %20)"
        ) from None


def _register_builtins() -> None:
    """plait's own schemes (a dict entry each: nothing is imported or opened here)."""
    register_store_scheme("memory", _open_memory, example="memory://", replace=True)
    register_store_scheme("sqlite", _open_sqlite, example="sqlite:///path.db", replace=True)
    pg = "postgresql://user@host/db"
    for name in ("postgresql", "postgres"):
        register_store_scheme(name, _open_postgres, options=("schema",), example=pg, replace=True)
    for name in ("redis", "rediss"):
        register_store_scheme(
            name, _open_redis, options=("prefix",), example="redis://host:6379/0", replace=True
        )


_register_builtins()
