"""Find what a step changed in the state, as a patch of top-level keys.

The committed snapshot keeps a shallow copy of each container value (list, dict, set,
pydantic model), so in-place changes one level down (``state["items"].append(x)``) are
seen. Changes deeper than that (mutating a dict inside a list) are not; assign the
top-level key to record them.

Who changed what: assignments are credited to the step that made them (``StateDict``
notes the writer). An in-place change has no writer; it is credited to the step that
completes next, which may be another step when several run at once.
"""

from __future__ import annotations

from typing import Any

_IMMUTABLE = frozenset({int, float, str, bool, type(None), bytes})


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


def diff(
    committed: dict[str, Any],
    live: dict[str, Any],
    step: str = "",
    writers: dict[str, str] | None = None,
    active: dict[str, int] | None = None,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """What ``step`` changed: (changed keys with copies of their new values, removed keys).

    Brings ``committed`` up to date with those. A key last assigned by another step that
    is still running (``writers``, ``active``) is left for that step to report.
    ``committed`` never holds a live container, only copies.
    """
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
        if writers and active:  # _foreign(), inlined on this hot path
            writer = writers.get(key)
            if writer is not None and writer != step and active.get(writer, 0) > 0:
                continue
        copied = value if type(value) in _IMMUTABLE else _copy(value)
        changes[key] = copied
        committed[key] = copied
    removed: tuple[str, ...] = ()
    if len(committed) != len(items):
        gone = tuple(
            k
            for k in committed
            if k not in live and not (writers and active and _foreign(k, step, writers, active))
        )
        for key in gone:
            del committed[key]
        removed = gone
    return changes, removed


def _foreign(key: str, step: str, writers: dict[str, str], active: dict[str, int]) -> bool:
    writer = writers.get(key)
    return writer is not None and writer != step and active.get(writer, 0) > 0


def revert(
    committed: dict[str, Any], live: dict[str, Any], step: str, active: dict[str, int]
) -> None:
    """Undo what ``step`` changed since ``committed`` (a failed attempt about to be
    retried), leaving keys another running step wrote. Bypasses reducers and tracking."""
    writers: dict[str, str] = getattr(live, "writers", None) or {}
    for key in [k for k in live if k not in committed or committed[k] != live[k]]:
        if _foreign(key, step, writers, active):
            continue
        if key in committed:
            dict.__setitem__(live, key, _copy(committed[key]))
        else:
            dict.__delitem__(live, key)
    for key in [k for k in committed if k not in live]:
        if not _foreign(key, step, writers, active):
            dict.__setitem__(live, key, _copy(committed[key]))
