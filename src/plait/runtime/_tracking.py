"""Find what a step changed in the state, as a patch of top-level keys.

The committed snapshot keeps a shallow copy of each container value (list, dict, set,
pydantic model), so in-place changes one level down (``state["items"].append(x)``) are
seen. Changes deeper than that (mutating a dict inside a list) are not; assign the
top-level key to record them.
"""

from __future__ import annotations

from typing import Any


def _copy(value: Any) -> Any:
    tp = type(value)
    if tp is list or tp is dict or tp is set:
        return value.copy()
    if hasattr(value, "model_copy") and hasattr(tp, "model_fields"):
        return value.model_copy()
    return value


def snapshot(live: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``live`` that later in-place changes one level down do not reach."""
    return {k: _copy(v) for k, v in list(live.items())}


def diff(committed: dict[str, Any], live: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(changed keys with copies of their new values, removed keys); brings ``committed``
    up to date. ``committed`` never holds a live container, only copies."""
    changes: dict[str, Any] = {}
    items = list(live.items())
    for key, value in items:
        if key in committed:
            old = committed[key]
            if old is value:
                continue
            try:
                if old == value:
                    continue
            except Exception:  # an __eq__ that raises: count it as changed
                pass
        copied = _copy(value)
        changes[key] = copied
        committed[key] = copied
    removed: tuple[str, ...] = ()
    if len(committed) != len(items):
        gone = tuple(k for k in committed if k not in live)
        for key in gone:
            del committed[key]
        removed = gone
    return changes, removed
