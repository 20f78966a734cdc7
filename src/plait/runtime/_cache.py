"""The step cache: skip a step whose code and inputs were seen before.

A cached entry holds what the step returned and the state changes it made; a hit puts
those changes back and completes the step with that output, with a ``CacheHit`` event
before its ``StepCompleted``. Entries live in the run's store (``cache_get``/``cache_put``).
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import logging
import marshal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from plait.core import StoreError
from plait.define import CachePolicy
from plait.runtime._value_codec import to_json_value
from plait.runtime.ports import Store

log = logging.getLogger("plait")

_CODE_HASHES: dict[Callable[..., Any], str] = {}


def code_hash(fn: Callable[..., Any]) -> str:
    """A hash of ``fn``'s source (its bytecode when the source is not available)."""
    found = _CODE_HASHES.get(fn)
    if found is not None:
        return found
    target = inspect.unwrap(fn)
    try:
        data = inspect.getsource(target).encode()
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        data = marshal.dumps(code) if code is not None else repr(target).encode()
    found = _CODE_HASHES[fn] = hashlib.sha256(data).hexdigest()[:16]
    return found


@dataclass(frozen=True, slots=True)
class Hit:
    output: Any
    changes: dict[str, Any]
    removed: tuple[str, ...]


def cache_key(
    flow: str,
    step: str,
    policy: CachePolicy,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    state: Mapping[str, Any],
) -> str | None:
    """The cache key of one call, or None when its inputs cannot be hashed (then the step
    runs uncached, with a warning in the log)."""
    where = f"cache key of step {step!r}"
    try:
        if policy.key is not None:
            inputs = to_json_value(policy.key(state, *args, **kwargs), where)
        else:
            inputs = {
                "args": to_json_value(list(args), where),
                "kwargs": to_json_value(dict(kwargs), where),
                "state": to_json_value({k: v for k, v in state.items() if k != "id"}, where),
            }
        text = json.dumps(
            [flow, step, code_hash(fn), policy.version, inputs],
            sort_keys=True,
            separators=(",", ":"),
        )
    except Exception as exc:
        log.warning("plait: step %r runs uncached: %s", step, exc)
        return None
    return f"plait:step:{hashlib.sha256(text.encode()).hexdigest()}"


async def lookup(store: Store, key: str) -> Hit | None:
    entry = await store.cache_get(key)
    if entry is None:
        return None
    value = entry.value
    if not isinstance(value, dict) or "output" not in value:
        return None
    if getattr(store, "immediate", False):  # in memory: the objects themselves, so copy
        value = copy.deepcopy(value)
    return Hit(value["output"], dict(value.get("changes") or {}), tuple(value.get("removed", ())))


async def remember(
    store: Store,
    key: str,
    policy: CachePolicy,
    output: Any,
    changes: dict[str, Any],
    removed: tuple[str, ...],
) -> None:
    """Store a step's result under ``key``; a value the store cannot hold is logged and
    not cached (the run goes on)."""
    value = {"output": output, "changes": changes, "removed": list(removed)}
    if getattr(store, "immediate", False):
        value = copy.deepcopy(value)
    try:
        await store.cache_put(key, value, ttl=policy.ttl)
    except StoreError as exc:
        log.warning("plait: a step result was not cached: %s", exc)
