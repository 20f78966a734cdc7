"""The stored form of events: versioned JSON.

Each event becomes one JSON object ``{"v": EVENT_FORMAT, "type": "StepCompleted", ...}``
with its fields. Values inside events (step outputs, state patches, inputs) are JSON
values; a pydantic model is stored as ``{"$model": "module:Qualname", "data": {...}}``
and comes back as that model when its class can be imported (otherwise as the dict), a
tuple as ``{"$tuple": [...]}``, bytes as ``{"$bytes": "<base64>"}``. Anything else that
JSON cannot hold fails with :class:`~plait.core.StoreError` naming the event and field.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
from typing import Any

from plait.core import StoreError
from plait.runtime._events import EVENT_TYPES, Event

EVENT_FORMAT = 1
"""Version of the stored event form; a store refuses events of a newer version."""

_JSON_SCALARS = (str, int, float, bool, type(None))


def to_json_value(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (see the module docstring); ``where`` names it in
    errors."""
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise StoreError(f"{where}: dict key {key!r} is not a string; JSON needs str keys")
            out[key] = to_json_value(item, f"{where}.{key}")
        return out
    if isinstance(value, list):
        return [to_json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, tuple):
        return {"$tuple": [to_json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and hasattr(type(value), "model_fields"):
        cls = type(value)
        data = to_json_value(model_dump(mode="json"), where)
        return {"$model": f"{cls.__module__}:{cls.__qualname__}", "data": data}
    raise StoreError(
        f"{where} holds a {type(value).__name__}, which cannot be stored as JSON; return "
        "JSON data (dict, list, str, number, bool, None), a pydantic model, a tuple or bytes"
    )


def _model_class(ref: str) -> Any:
    module, _, qualname = ref.partition(":")
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return found if hasattr(found, "model_validate") else None


def from_json_value(value: Any) -> Any:
    """The inverse of :func:`to_json_value`."""
    if isinstance(value, list):
        return [from_json_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        if "$tuple" in value:
            return tuple(from_json_value(item) for item in value["$tuple"])
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
    if len(value) == 2 and "$model" in value and "data" in value:
        cls = _model_class(value["$model"])
        data = from_json_value(value["data"])
        return data if cls is None else cls.model_validate(data)
    return {key: from_json_value(item) for key, item in value.items()}


def encode_event(event: Event) -> dict[str, Any]:
    """``event`` as a JSON-ready dict with its type and the format version."""
    name = type(event).__name__
    out: dict[str, Any] = {"v": EVENT_FORMAT, "type": name}
    for f in dataclasses.fields(event):
        out[f.name] = to_json_value(getattr(event, f.name), f"{name} #{event.seq} {f.name}")
    return out


def decode_event(data: dict[str, Any]) -> Event:
    """An event from its stored dict; refuses unknown types and newer formats."""
    version = data.get("v")
    if not isinstance(version, int) or version > EVENT_FORMAT:
        raise StoreError(
            f"stored event has format {version!r}, newer than this plait reads "
            f"({EVENT_FORMAT}); upgrade plait to read this run"
        )
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        raise StoreError(f"stored event has unknown type {data.get('type')!r}")
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: from_json_value(v) for k, v in data.items() if k in fields}
    if "removed" in kwargs and isinstance(kwargs["removed"], list):
        kwargs["removed"] = tuple(kwargs["removed"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise StoreError(f"stored {cls.__name__} event is incomplete: {exc}") from None


def dumps_event(event: Event) -> str:
    return json.dumps(encode_event(event), separators=(",", ":"), ensure_ascii=False)


def loads_event(text: str | bytes) -> Event:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StoreError(f"a stored event is not valid JSON (corrupted log?): {exc}") from None
    if not isinstance(data, dict):
        raise StoreError("a stored event is not a JSON object (corrupted log?)")
    return decode_event(data)
