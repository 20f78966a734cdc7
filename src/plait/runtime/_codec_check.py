"""Which events every store can hold: the check the in-memory store makes on every batch
(so that a flow that runs in memory runs on every store), and how a field that cannot be
stored is named in the error (``StepCompleted #4 (step 'fetch'): output[1].when``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from plait.core import StoreError
from plait.runtime._codec_steps import plain_scalar
from plait.runtime._events import (
    Event,
    RouteTaken,
    RunCompleted,
    RunStarted,
    StateChanged,
    StepCompleted,
    StepStarted,
)
from plait.runtime._value_codec import (
    SMALL_INT,
    WORD_HI,
    WORD_LO,
    Unstorable,
    encode,
    surely_storable,
    unstorable_message,
)

_CHECKED: dict[type[Event], tuple[tuple[str, ...], tuple[str, ...]]] = {}
UNCHECKED = frozenset({"int", "float", "bool", "run_id", "step"})


def _checked(cls: type[Event]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(str fields, fields of other types) of ``cls``: what may hold something that
    cannot be stored. Numbers the runtime sets always can be; so can the run id (checked
    when the run is created) and step names (Python names, or checked with the plan)."""
    found = _CHECKED.get(cls)
    if found is None:
        fields = [
            f
            for f in dataclasses.fields(cls)
            if f.name not in UNCHECKED and str(f.type) not in UNCHECKED
        ]
        texts = tuple(f.name for f in fields if f.type in ("str", str))
        others = tuple(f.name for f in fields if f.type not in ("str", str))
        found = _CHECKED[cls] = (texts, others)
    return found


def where(event: Event, field: str) -> str:
    """How errors name a field of an event: its type, number and step."""
    step = getattr(event, "step", None)
    of = f" (step {step!r})" if isinstance(step, str) and step else ""
    return f"{type(event).__name__} #{event.seq}{of}: {field}"


def encode_field(event: Event, field: str, value: Any) -> Any:
    """``value`` of ``event``'s ``field`` through the value codec, or the StoreError that
    names it."""
    try:
        return encode(value)
    except Unstorable as exc:
        raise StoreError(unstorable_message(where(event, field), exc)) from None


def _scalars(patch: dict[str, Any]) -> bool:
    """Whether a state patch holds only ASCII-named scalars that every store keeps as they
    are (most patches); False means "check it field by field", not "cannot be stored"."""
    for k, x in patch.items():
        if type(k) is not str or not k.isascii():
            return False
        t = type(x)
        if t is int:
            if not WORD_LO < x < WORD_HI:
                return False
        elif t is str:
            if not x.isascii():
                return False
        elif x is not None and t is not float and t is not bool:
            return False
    return True


def check_events(events: Iterable[Event]) -> None:
    """Raise the StoreError :func:`encode_event` would for the first of ``events`` that
    holds a value no store can hold, without encoding anything that is surely fine: the
    in-memory store refuses what a durable store could not hold, at little cost (the
    common values — scalars, flat dicts of them — are checked here without a call)."""
    for event in events:
        cls = type(event)
        if cls is StepStarted:  # a step's own events first: they are most of a log
            continue  # numbers and names only (see _checked)
        if cls is StepCompleted:
            value = event.output  # type: ignore[attr-defined]
            t = type(value)
            if (
                value is None
                or (t is str and value.isascii())
                or (t is int and WORD_LO < value < WORD_HI)
                or t is bool
                or t is float
            ):
                continue
        elif cls is RouteTaken:
            label = event.label  # type: ignore[attr-defined]
            if type(label) is str and label.isascii():
                continue
        elif cls is StateChanged:
            if not event.removed and _scalars(event.changes):  # type: ignore[attr-defined]
                continue
        elif cls is RunStarted:  # once a run, but in every run
            flow = event.flow  # type: ignore[attr-defined]
            if (
                type(flow) is str
                and flow.isascii()
                and _scalars(event.inputs)  # type: ignore[attr-defined]
                and _scalars(event.state)  # type: ignore[attr-defined]
            ):
                continue
        elif cls is RunCompleted and plain_scalar(event.output):  # type: ignore[attr-defined]
            continue
        texts, others = _CHECKED.get(cls) or _checked(cls)
        for name in texts:
            value = getattr(event, name)
            if type(value) is not str or not value.isascii():
                encode_field(event, name, value)
        for name in others:
            value = getattr(event, name)
            t = type(value)
            if value is None or t is bool or t is float or (t is tuple and not value):
                continue
            if t is str:  # a router's label, a text output
                if value.isascii():
                    continue
            elif t is int:
                if WORD_LO < value < WORD_HI or -SMALL_INT < value < SMALL_INT:
                    continue
            elif t is dict:
                for k, x in value.items():
                    tx = type(x)
                    if type(k) is not str or not k.isascii():
                        break
                    if tx is int:
                        if not (WORD_LO < x < WORD_HI or -SMALL_INT < x < SMALL_INT):
                            break
                    elif tx is str:
                        if not x.isascii():
                            break
                    elif not (x is None or tx is float or tx is bool):
                        break
                else:
                    continue  # a flat dict of scalars (a step's state patch, mostly)
            if not surely_storable(value, 0):
                encode_field(event, name, value)
