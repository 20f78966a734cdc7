"""The stored form of a step's own events, written without the general field loop.

A durable step stores ``StepStarted``, ``StateChanged``, ``StepCompleted`` and, for a
router, ``RouteTaken``: most of every log. Each function here writes the very dict that
:func:`~plait.runtime._codec.encode_event`'s general path writes (the same keys, in the
same order; the tests compare both on plain and awkward values), or returns ``None``
when a value needs the value codec (a tag, an escaped key, a check that may fail), and
the general path takes over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plait.runtime._events import Event, RouteTaken, StateChanged, StepCompleted, StepStarted
from plait.runtime._value_codec import WORD_HI, WORD_LO, is_plain

EVENT_FORMAT = 2
"""Version of the stored event form; a store refuses events of a newer version.
1: the first; 2: values as :mod:`~plait.runtime._value_codec` format 2, and
``RunStarted`` without repeated inputs."""


def plain_scalar(x: Any) -> bool:
    """Whether ``x`` is a scalar JSON keeps as it is (what ``is_plain`` says, for the
    common scalars, without its recursion)."""
    t = type(x)
    if t is int:
        n: int = x
        return WORD_LO < n < WORD_HI
    if t is str:
        s: str = x
        return s.isascii()
    if t is float:
        f: float = x
        return f - f == 0.0  # not NaN or infinite
    return x is None or t is bool


def _started(e: Any) -> dict[str, Any] | None:
    return {
        "v": EVENT_FORMAT,
        "type": "StepStarted",
        "run_id": e.run_id,
        "seq": e.seq,
        "ts": e.ts,
        "step": e.step,
        "invocation": e.invocation,
        "attempt": e.attempt,
    }


def _completed(e: Any) -> dict[str, Any] | None:
    output = e.output
    if not plain_scalar(output) and not is_plain(output, 0):
        return None
    return {
        "v": EVENT_FORMAT,
        "type": "StepCompleted",
        "run_id": e.run_id,
        "seq": e.seq,
        "ts": e.ts,
        "step": e.step,
        "invocation": e.invocation,
        "output": output,
        "duration": e.duration,
    }


NOTHING_REMOVED: dict[str, Any] = {"$tuple": []}
"""An empty ``removed`` tuple, stored (read only: dumped, never changed)."""


def _changed(e: Any) -> dict[str, Any] | None:
    changes = e.changes
    removed = e.removed
    if type(changes) is not dict or type(removed) is not tuple or removed:
        return None
    for k, x in changes.items():
        if type(k) is not str or k[:1] == "$" or not k.isascii():
            return None
        if not plain_scalar(x) and not is_plain(x, 1):
            return None
    return {
        "v": EVENT_FORMAT,
        "type": "StateChanged",
        "run_id": e.run_id,
        "seq": e.seq,
        "ts": e.ts,
        "step": e.step,
        "changes": changes,
        "removed": NOTHING_REMOVED,
    }


def _routed(e: Any) -> dict[str, Any] | None:
    label = e.label
    if type(label) is not str or not label.isascii():
        return None
    return {
        "v": EVENT_FORMAT,
        "type": "RouteTaken",
        "run_id": e.run_id,
        "seq": e.seq,
        "ts": e.ts,
        "step": e.step,
        "invocation": e.invocation,
        "label": label,
    }


STEP_ENCODERS: dict[type[Event], Callable[[Any], dict[str, Any] | None]] = {
    StepStarted: _started,
    StepCompleted: _completed,
    StateChanged: _changed,
    RouteTaken: _routed,
}
