"""How :class:`~plait.stores.RedisStore` lays out a run record (a hash) and a cache entry
(a JSON string) in Redis.

Values are stored in the codec's format 2 and say so (``format`` in the record's hash and
in the cache entry); records and entries without it were written in format 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from plait.core import StoreError
from plait.runtime import (
    VALUE_FORMAT,
    CacheEntry,
    RunRecord,
    decode_value,
    to_json_value,
    value_to_text,
)
from plait.stores._values import is_live


def lua_float(x: float) -> str:
    """``x`` as text that both Python's ``float`` and Lua's ``tonumber`` read back exactly
    (Lua cannot read ``inf``)."""
    if math.isinf(x):
        return "1e999" if x > 0 else "-1e999"
    return repr(x)


def flatten(fields: Mapping[str, str]) -> list[str]:
    return [part for pair in fields.items() for part in pair]


def encode_record(record: RunRecord) -> dict[str, str]:
    where = f"run {record.run_id}"
    plan = record.plan
    return {
        "run_id": record.run_id,
        "flow": record.flow,
        "status": record.status,
        "created_at": repr(record.created_at),
        "updated_at": repr(record.updated_at),
        "inputs": value_to_text(record.inputs, f"{where} inputs"),
        "plan": "" if plan is None else value_to_text(plan, f"{where} plan"),
        "format": str(VALUE_FORMAT),
        "error": record.error,
        "owner": record.owner,
        "lease_until": lua_float(record.lease_until),
    }


def decode_record(run_id: str, fields: Mapping[str, str]) -> RunRecord:
    try:
        plan: Any = fields.get("plan", "")
        fmt = int(fields.get("format", "1"))
        return RunRecord(
            run_id=run_id,
            flow=fields["flow"],
            status=fields["status"],
            created_at=float(fields["created_at"]),
            updated_at=float(fields["updated_at"]),
            inputs=decode_value(json.loads(fields["inputs"]), fmt),
            plan=decode_value(json.loads(plan), fmt) if plan else None,
            error=fields.get("error", ""),
            owner=fields.get("owner", ""),
            lease_until=float(fields.get("lease_until", "0")),
        )
    except (KeyError, ValueError, TypeError, RecursionError) as exc:
        # Callers name the run and the store (see plait.stores._values.read_record).
        raise StoreError(f"a field cannot be read: {exc!r}") from None


def encode_cache_entry(key: str, value: Any, now: float, expiry: float | None) -> str:
    """The JSON text kept for cache key ``key``; StoreError if JSON cannot hold ``value``."""
    entry = {
        "value": to_json_value(value, f"cache key {key!r}: value"),
        "created_at": now,
        "expires_at": expiry,
        "format": VALUE_FORMAT,
    }
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False)


def decode_cache_entry(key: str, text: str, now: float) -> CacheEntry | None:
    """The entry in ``text``, or None when it has expired by ``now``."""
    try:
        entry = json.loads(text)
        expiry = entry["expires_at"]
        expiry = None if expiry is None else float(expiry)
        created_at = float(entry["created_at"])
        if not is_live(expiry, now):
            return None
        value = decode_value(entry["value"], int(entry.get("format", 1)))
        return CacheEntry(value=value, created_at=created_at)
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise StoreError(
            f"the cached value of key {key!r} in Redis is corrupted ({exc!r}); put it again"
        ) from None
