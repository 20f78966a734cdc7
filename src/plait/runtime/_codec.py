"""The stored form of events: versioned JSON.

Each event becomes one JSON object ``{"v": EVENT_FORMAT, "type": "StepCompleted", ...}``
with its fields. Values inside events (step outputs, state patches, inputs) are encoded
by :mod:`plait.runtime._value_codec` (type tags, escaped user keys) and read back by
:mod:`plait.runtime._value_decode`; a value that cannot be stored fails with
:class:`~plait.core.StoreError` naming the event, its step and the field path
(``StepCompleted #4 (step 'fetch'): output[1].when cannot be stored: …``).

``RunStarted`` is stored without repeating its inputs: a state key that holds the very
input value is listed in ``"state_from_inputs"`` instead of stored twice, and a store
that keeps the run's inputs with its record may leave them out of the event
(``"inputs_in_run": true``; it hands them back to :func:`decode_event`).

Format 1 (plait before the value codec had tags for sets, datetimes, …) still reads.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from plait.core import StoreError
from plait.runtime._codec_check import UNCHECKED, encode_field, where
from plait.runtime._codec_steps import (
    EVENT_FORMAT,
    NOTHING_REMOVED,
    STEP_ENCODERS,
)
from plait.runtime._events import (
    EVENT_TYPES,
    Event,
    RunStarted,
)
from plait.runtime._value_codec import (
    is_plain,
    to_json_value,
)
from plait.runtime._value_decode import decode_value


def same_inputs(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two inputs mappings hold the very same values (identity, so cheap and
    exact): then a store may keep them once."""
    return a.keys() == b.keys() and all(a[k] is b[k] for k in a)


def _shared(state_value: Any, input_value: Any) -> bool:
    if state_value is input_value:
        return True
    t = type(state_value)
    return (t is str or t is bytes) and type(input_value) is t and state_value == input_value


def encode_event(event: Event, *, inputs_in_run: bool = False) -> dict[str, Any]:
    """``event`` as a JSON-ready dict with its type and the format version.
    ``inputs_in_run``: leave a ``RunStarted``'s inputs out (the store keeps them with the
    run's record, see :func:`same_inputs`)."""
    cls = type(event)
    fast = STEP_ENCODERS.get(cls)
    if fast is not None:
        done = fast(event)
        if done is not None:
            return done
    return _encode_fields(event, inputs_in_run)


def _encode_fields(event: Event, inputs_in_run: bool) -> dict[str, Any]:
    """:func:`encode_event` field by field (every event type; the reference for
    :mod:`plait.runtime._codec_steps`)."""
    cls = type(event)
    out: dict[str, Any] = {"v": EVENT_FORMAT, "type": cls.__name__}
    if cls is RunStarted:
        return _encode_run_started(event, out, inputs_in_run)  # type: ignore[arg-type]
    for name, check in _PLANS.get(cls) or _plan(cls):
        value = getattr(event, name)
        if check and not is_plain(value, 0):
            if type(value) is tuple and not value:  # StateChanged.removed, mostly
                value = NOTHING_REMOVED
            else:
                value = encode_field(event, name, value)
        out[name] = value
    return out


_PLANS: dict[type[Event], tuple[tuple[str, bool], ...]] = {}


def _plan(cls: type[Event]) -> tuple[tuple[str, bool], ...]:
    """``cls``'s fields, each with whether its value must go through the value codec
    (not the numbers the runtime sets, the run id or step names: see ``UNCHECKED``)."""
    plan = _PLANS[cls] = tuple(
        (f.name, f.name not in UNCHECKED and str(f.type) not in UNCHECKED)
        for f in dataclasses.fields(cls)
    )
    return plan


def _encode_run_started(event: RunStarted, out: dict[str, Any], omit: bool) -> dict[str, Any]:
    inputs, state = event.inputs, event.state
    shared = [
        k for k, v in state.items() if isinstance(k, str) and k in inputs and _shared(v, inputs[k])
    ]
    if shared:
        state = {k: None if k in shared else v for k, v in state.items()}
    for f in dataclasses.fields(event):
        if f.name == "inputs":
            if omit:
                out["inputs_in_run"] = True
                continue
            value: Any = inputs
        elif f.name == "state":
            value = state
        else:
            value = getattr(event, f.name)
        out[f.name] = to_json_value(value, where(event, f.name))
    if shared:
        out["state_from_inputs"] = shared
    return out


def needs_run_inputs(data: Mapping[str, Any]) -> bool:
    """Whether the stored event ``data`` left its inputs with the run's record."""
    return data.get("inputs_in_run") is True


def decode_event(data: dict[str, Any], run_inputs: Mapping[str, Any] | None = None) -> Event:
    """An event from its stored dict; refuses unknown types and newer formats.
    ``run_inputs``: the run record's inputs, for a ``RunStarted`` stored without its own
    (:func:`needs_run_inputs`)."""
    version = data.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or version > EVENT_FORMAT:
        raise StoreError(
            f"stored event has format {version!r}, newer than this plait reads "
            f"({EVENT_FORMAT}); upgrade plait to read this run"
        )
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        raise StoreError(f"stored event has unknown type {data.get('type')!r}")
    fields = {f.name for f in dataclasses.fields(cls)}
    try:
        kwargs = {k: decode_value(v, version) for k, v in data.items() if k in fields}
    except RecursionError:
        raise StoreError(f"stored {cls.__name__} event is nested too deeply to read") from None
    for name in ("removed", "rerun", "steps"):  # tuples of str, stored as lists in format 1
        if isinstance(kwargs.get(name), list):
            kwargs[name] = tuple(kwargs[name])
    if cls is RunStarted:
        _restore_inputs(data, kwargs, run_inputs)
    _check_types(cls, kwargs)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise StoreError(f"stored {cls.__name__} event is incomplete: {exc}") from None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPE_CHECKS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "str": ("a string", lambda v: isinstance(v, str)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", _is_number),
    "float | None": ("a number or null", lambda v: v is None or _is_number(v)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "dict[str, Any]": ("an object", lambda v: isinstance(v, Mapping)),
    "tuple[str, ...]": (
        "a list of strings",
        lambda v: isinstance(v, tuple) and all(isinstance(x, str) for x in v),
    ),
}

_FIELD_CHECKS: dict[type, tuple[tuple[str, str, Callable[[object], bool]], ...]] = {}


def _check_types(cls: type, kwargs: Mapping[str, Any]) -> None:
    """StoreError when a stored field holds a value of the wrong kind (a corrupted row):
    it would otherwise fail far from the store, as a TypeError while replaying."""
    checks = _FIELD_CHECKS.get(cls)
    if checks is None:
        checks = _FIELD_CHECKS[cls] = tuple(
            (f.name, *_TYPE_CHECKS[str(f.type)])
            for f in dataclasses.fields(cls)
            if str(f.type) in _TYPE_CHECKS
        )
    for name, kind, ok in checks:
        if name in kwargs and not ok(kwargs[name]):
            raise StoreError(
                f"stored {cls.__name__} event has field {name!r} of type "
                f"{type(kwargs[name]).__name__}, not {kind} (corrupted log?)"
            )


def _restore_inputs(
    data: dict[str, Any], kwargs: dict[str, Any], run_inputs: Mapping[str, Any] | None
) -> None:
    if needs_run_inputs(data):
        if run_inputs is None:
            raise StoreError(
                "stored RunStarted event keeps its inputs with the run's record, and the "
                "store did not hand them over"
            )
        kwargs["inputs"] = dict(run_inputs)
    inputs, state = kwargs.get("inputs"), kwargs.get("state")
    shared = data.get("state_from_inputs")
    if isinstance(shared, list) and isinstance(inputs, dict) and isinstance(state, dict):
        for key in shared:
            if key in inputs and key in state:
                state[key] = inputs[key]


_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
"""The standard library's encoder, for what orjson refuses (see :func:`dumps_event`)."""


def dumps_event(event: Event, *, inputs_in_run: bool = False) -> str:
    """``event`` as JSON text (see :func:`encode_event`).

    Written by orjson, about fifteen times faster than the standard library on a
    step's events (this is on every durable step's path); what orjson refuses — an int
    past 64 bits, nesting past its 255 levels — the standard library writes. Both write
    the same JSON data (floats may be spelt differently, ``1.2e-05`` or ``0.000012``,
    and read back the same)."""
    return _dumps(encode_event(event, inputs_in_run=inputs_in_run), event)


def dumps_events(events: Sequence[Event], *, inputs_in_run: bool = False) -> str:
    """``events`` as one JSON array of their objects: how a store keeps a batch of
    events in one row (read back by :func:`parse_events`). ``inputs_in_run`` is for the
    first event (see :func:`encode_event`)."""
    data = [encode_event(e, inputs_in_run=inputs_in_run and i == 0) for i, e in enumerate(events)]
    return _dumps(data, events[0])


def _dumps(data: Any, event: Event) -> str:
    try:
        text: str = orjson.dumps(data).decode()
        return text
    except TypeError:  # orjson.JSONEncodeError
        pass
    try:
        return _JSON.encode(data)
    except (ValueError, RecursionError) as exc:  # not expected: the value codec checks
        raise StoreError(f"{where(event, 'a value')} cannot be stored as JSON: {exc}") from None


def parse_event(text: str | bytes) -> dict[str, Any]:
    """The JSON object of a stored event, not decoded yet (see :func:`decode_event`)."""
    data = _loads(text)
    if not isinstance(data, dict):
        raise StoreError("a stored event is not a JSON object (corrupted log?)")
    return data


def parse_events(text: str | bytes) -> list[dict[str, Any]]:
    """The JSON objects of a stored row, not decoded yet: one event (an object, as
    :func:`dumps_event` writes it) or a batch (an array, as :func:`dumps_events`)."""
    data = _loads(text)
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        return data
    raise StoreError("a stored event is not a JSON object or a list of them (corrupted log?)")


def _loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise StoreError(f"a stored event is not valid JSON (corrupted log?): {exc}") from None


def loads_event(text: str | bytes, run_inputs: Mapping[str, Any] | None = None) -> Event:
    """An event from its stored JSON text."""
    return decode_event(parse_event(text), run_inputs)
