"""What every store does the same way for leases and the step cache.

Cache values are stored as the JSON text of :func:`~plait.runtime.to_json_value`, the
codec events use, so pydantic models, tuples and bytes come back as they went in, and a
value JSON cannot hold fails before anything is written.
"""

from __future__ import annotations

import json
import math
from typing import Any

from plait.core import StoreError
from plait.runtime import from_json_value, to_json_value


def dumps_value(key: str, value: Any) -> str:
    """``value`` for cache key ``key`` as JSON text; StoreError naming the key if JSON
    cannot hold it."""
    return json.dumps(
        to_json_value(value, f"cache key {key!r}"), separators=(",", ":"), ensure_ascii=False
    )


def loads_value(key: str, text: str | bytes) -> Any:
    """The inverse of :func:`dumps_value`; StoreError when the stored text is corrupted."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StoreError(
            f"the cached value of key {key!r} is not valid JSON (corrupted cache?): {exc}"
        ) from None
    return from_json_value(data)


def expires_at(now: float, ttl: float | None) -> float | None:
    """When an entry put at ``now`` with ``ttl`` expires (None: never)."""
    if ttl is None:
        return None
    if math.isnan(ttl):
        raise ValueError("cache ttl must be a number of seconds or None, not NaN")
    return now + ttl


def is_live(expiry: float | None, now: float) -> bool:
    """Whether an entry expiring at ``expiry`` is still there at ``now``."""
    return expiry is None or now < expiry


def check_lease(owner: str, ttl: float | None = None) -> None:
    """Refuse an owner that names nobody, or a ttl that is not a number."""
    if not isinstance(owner, str) or not owner:
        raise ValueError(f"a lease owner must be a non-empty string, not {owner!r}")
    if ttl is not None and math.isnan(ttl):
        raise ValueError("a lease ttl must be a number of seconds, not NaN")
