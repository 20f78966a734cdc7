"""Store URL schemes: which opener makes a store for ``scheme://…``.

plait registers its own (``memory``, ``sqlite``, ``postgresql``/``postgres``,
``redis``/``rediss``; see :mod:`plait.engine._backends`). A package adds one in either
of two ways:

- an entry point in the group ``plait.stores``, named after the scheme, pointing at an
  opener or a :class:`StoreScheme` (loaded only when a URL with that scheme is opened)::

      [project.entry-points."plait.stores"]
      mystore = "mypackage.plait_store:scheme"

- a call, before the URL is opened: ``register_store_scheme("mystore", opener)``.

An opener takes the parsed :class:`~plait.engine._backends.StoreURL` (``rest``: the URL
with plait's own options taken out; ``options``: those it declared, decoded) and returns
a store, or an awaitable of one. Registered schemes win over entry points of the same
name; names are case-insensitive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plait.core import StoreError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from plait.engine._backends import StoreURL
    from plait.runtime import Store

GROUP = "plait.stores"
"""The entry-point group third-party store schemes are found in."""

log = logging.getLogger("plait")

Opener = Callable[["StoreURL"], "Store | Awaitable[Store]"]
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


@dataclass(frozen=True, slots=True)
class StoreScheme:
    """How to open stores of one URL scheme.

    ``options`` are the query options the opener reads from ``StoreURL.options`` (taken
    out of the URL it gets, decoded); every other option stays in ``StoreURL.rest`` as
    written. ``retention`` is always plait's. ``example`` shows the URL form in messages.
    """

    open: Opener
    options: tuple[str, ...] = ()
    example: str = ""


_registered: dict[str, StoreScheme] = {}


def register_store_scheme(
    scheme: str,
    opener: Opener | StoreScheme,
    *,
    options: Sequence[str] = (),
    example: str = "",
    replace: bool = False,
) -> None:
    """Open URLs ``scheme://…`` with ``opener`` from now on, in this process.

    A scheme that is already registered is refused (StoreError) unless ``replace``."""
    name = _checked(scheme)
    if name in _registered and not replace:
        raise StoreError(
            f"store scheme {name!r} is already registered; pass replace=True to replace it"
        )
    _registered[name] = _as_scheme(name, opener, options, example)


def unregister_store_scheme(scheme: str) -> None:
    """Forget ``scheme`` (a registered one; entry points are found again when asked)."""
    _registered.pop(scheme.lower(), None)


def find_scheme(scheme: str, shown: str) -> StoreScheme:
    """The scheme's opener, loading its entry point on first use; a StoreError listing
    the known schemes when there is none (``shown``: the URL, for the message)."""
    name = scheme.lower()
    found = _registered.get(name)
    if found is not None:
        return found
    point = _entry_points().get(name)
    if point is None:
        raise StoreError(
            f"unknown store URL {shown!r}: no store is registered for scheme {name!r}. "
            f"Known schemes: {', '.join(known_schemes())} ({examples()}). A store from "
            f"another package registers its scheme with an entry point in the group "
            f"{GROUP!r} (install that package) or with plait.engine.register_store_scheme()"
        )
    try:
        loaded = point.load()
    except Exception as exc:
        raise StoreError(
            f"store URL {shown!r}: the entry point {point.value!r} (group {GROUP!r}) that "
            f"provides scheme {name!r} cannot be loaded: {type(exc).__name__}: {exc}; "
            "reinstall the package that provides it"
        ) from exc
    found = _as_scheme(name, loaded, (), "")
    _registered[name] = found
    return found


def known_schemes() -> list[str]:
    """Every scheme a URL may use now: registered ones and entry points (not loaded)."""
    return sorted({*_registered, *_entry_points()})


def examples() -> str:
    """The registered schemes' URL forms, for messages."""
    return ", ".join(dict.fromkeys(s.example for s in _registered.values() if s.example))


def entry_points(*, group: str) -> Sequence[EntryPoint]:
    """The installed entry points of ``group`` (importlib.metadata loads only now: it is
    not light, and ``import plait`` stays so)."""
    from importlib.metadata import entry_points as installed

    return list(installed(group=group))


def _entry_points() -> dict[str, EntryPoint]:
    try:
        points = entry_points(group=GROUP)
    except Exception as exc:  # broken metadata of some installed package
        log.warning("plait: cannot list the entry points of group %s: %s", GROUP, exc)
        return {}
    return {p.name.lower(): p for p in points}


def _checked(scheme: str) -> str:
    if not isinstance(scheme, str) or not _SCHEME.fullmatch(scheme.lower()):
        raise StoreError(
            f"store scheme {scheme!r} is not a URL scheme; use letters, digits, '+', '-' "
            "and '.', starting with a letter (as in 'mystore' for mystore://…)"
        )
    return scheme.lower()


def _as_scheme(name: str, opener: Any, options: Sequence[str], example: str) -> StoreScheme:
    if isinstance(opener, StoreScheme):
        if options or example:
            raise StoreError(
                f"store scheme {name!r}: give options and example in the StoreScheme, "
                "not as arguments too"
            )
        return opener
    if not callable(opener):
        raise StoreError(
            f"store scheme {name!r}: the opener must be a callable taking a StoreURL (or "
            f"a StoreScheme), not {type(opener).__name__}"
        )
    if isinstance(options, str):
        raise StoreError(f"store scheme {name!r}: options must be a sequence of names")
    return StoreScheme(open=opener, options=tuple(options), example=example)
