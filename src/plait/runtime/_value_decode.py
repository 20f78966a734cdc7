"""Stored values back into Python values: the inverse of :mod:`plait.runtime._value_codec`.

Format 2 (tags, escaped ``$`` keys) and format 1 (plait before it: only tuples, bytes and
models were tagged, user keys were not escaped). Decoding never raises on odd data: a
tag that does not read comes back as the dict it is. A class is looked up in the type
registry (:mod:`plait.runtime._types`), never imported; an unknown one gives plain data.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import enum
import json
import pathlib
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from plait.core import StoreError
from plait.runtime._types import find_type, warn_unknown
from plait.runtime._value_codec import VALUE_FORMAT


def from_json_value(value: Any) -> Any:
    """The inverse of :func:`to_json_value`. Reads format-1 values too (stored by older
    plait), except user keys that begin with ``$$``. Never raises on odd data: a tag it
    cannot read comes back as the dict it is."""
    t = type(value)
    if t is list:
        return [from_json_value(x) for x in value]
    if t is not dict:
        return value
    if len(value) == 1:
        for key, payload in value.items():
            if key[:1] == "$" and key[1:2] != "$":
                decode = _TAGS.get(key)
                if decode is not None:
                    try:
                        return decode(payload)
                    except _BAD_TAG:
                        pass
                return {key: from_json_value(payload)}
    elif len(value) == 2 and "$model" in value and "data" in value:
        return decode_model(value["$model"], value["data"])  # format 1
    return {(k[1:] if k[:2] == "$$" else k): from_json_value(x) for k, x in value.items()}


_BAD_TAG = (ValueError, TypeError, KeyError, IndexError, binascii.Error, OverflowError)


def _class_payload(payload: Any) -> tuple[str, Any]:
    ref, data = payload
    if not isinstance(ref, str):
        raise TypeError("a class reference is a str")
    return ref, data


def decode_model(ref: Any, data: Any, decode: Callable[[Any], Any] = from_json_value) -> Any:
    """A model of class ``ref`` from its stored ``data`` (plain data if the class is not
    known here or the data no longer fits it)."""
    from pydantic import BaseModel, ValidationError  # loaded here only when a model is read

    fields = decode(data)
    cls = find_type(ref) if isinstance(ref, str) else None
    if cls is None or not issubclass(cls, BaseModel):
        warn_unknown(str(ref), "model")
        return fields
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        warn_unknown(f"{ref} ({exc.error_count()} validation errors)", "model")
        return fields


def _model(payload: Any) -> Any:
    return decode_model(*_class_payload(payload))


def _dataclass(payload: Any) -> Any:
    ref, data = _class_payload(payload)
    fields = from_json_value(data)
    cls = find_type(ref)
    if cls is None or not dataclasses.is_dataclass(cls) or not isinstance(fields, dict):
        warn_unknown(ref, "dataclass")
        return fields
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    try:
        obj = cls(**{k: v for k, v in fields.items() if k in init})
        for k, v in fields.items():
            if k not in init:
                object.__setattr__(obj, k, v)
    except Exception as exc:  # the class changed since: keep the data
        warn_unknown(f"{ref} ({type(exc).__name__}: {exc})", "dataclass")
        return fields
    return obj


def _enum(payload: Any) -> Any:
    ref, data = _class_payload(payload)
    value = from_json_value(data)
    cls = find_type(ref)
    if cls is None or not issubclass(cls, enum.Enum):
        warn_unknown(ref, "enum")
        return value
    try:
        return cls(value)
    except ValueError:
        warn_unknown(f"{ref} (no member {value!r})", "enum")
        return value


def _namedtuple(payload: Any) -> Any:
    ref, data = _class_payload(payload)
    items = tuple(from_json_value(x) for x in data)
    cls = find_type(ref)
    if cls is None or not issubclass(cls, tuple):
        warn_unknown(ref, "named tuple")
        return items
    return cls(*items)


def _float(payload: Any) -> float:
    if payload not in ("nan", "inf", "-inf"):
        raise ValueError(payload)
    return float(payload)


def _items(payload: Any) -> list[Any]:
    if type(payload) is not list:
        raise TypeError("a list")
    return [from_json_value(x) for x in payload]


def _b64(payload: Any) -> bytes:
    return base64.b64decode(payload, validate=True)


_TAGS: dict[str, Callable[[Any], Any]] = {
    "$tuple": lambda p: tuple(_items(p)),
    "$set": lambda p: set(_items(p)),
    "$frozenset": lambda p: frozenset(_items(p)),
    "$bytes": _b64,
    "$bytearray": lambda p: bytearray(_b64(p)),
    "$map": lambda p: {_hashable(k): v for k, v in _items(p)},
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$time": dt.time.fromisoformat,
    "$timedelta": lambda p: dt.timedelta(days=p[0], seconds=p[1], microseconds=p[2]),
    "$decimal": lambda p: Decimal(_str(p)),
    "$uuid": lambda p: uuid.UUID(_str(p)),
    "$path": lambda p: pathlib.Path(_str(p)),
    "$complex": lambda p: complex(*_items(p)),
    "$range": lambda p: range(*(_int(x) for x in p)),
    "$float": _float,
    "$model": _model,
    "$dataclass": _dataclass,
    "$enum": _enum,
    "$namedtuple": _namedtuple,
}


def _str(p: Any) -> str:
    if type(p) is not str:
        raise TypeError("a str")
    return p


def _int(p: Any) -> int:
    if type(p) is not int:
        raise TypeError("an int")
    return p


def _hashable(k: Any) -> Any:
    hash(k)  # TypeError (a bad tag) for a list or dict
    return k


def _from_v1(value: Any) -> Any:
    """A format-1 value (plait before format 2): tuples, bytes and models were tagged,
    user keys were not escaped. A tag that does not read comes back as the dict it is."""
    t = type(value)
    if t is list:
        return [_from_v1(x) for x in value]
    if t is not dict:
        return value
    if len(value) == 1:
        items = value.get("$tuple")
        if type(items) is list:
            return tuple(_from_v1(x) for x in items)
        raw = value.get("$bytes")
        if type(raw) is str:
            try:
                return base64.b64decode(raw, validate=True)
            except binascii.Error:
                pass
    elif len(value) == 2 and "$model" in value and "data" in value:
        return decode_model(value["$model"], value["data"], _from_v1)
    return {k: _from_v1(x) for k, x in value.items()}


def decode_value(value: Any, format: int = VALUE_FORMAT) -> Any:
    """A value stored in ``format`` (1 or 2) as JSON data, decoded."""
    if format == VALUE_FORMAT:
        return from_json_value(value)
    if format == 1:
        return _from_v1(value)
    raise StoreError(
        f"a stored value has format {format!r}, newer than this plait reads "
        f"({VALUE_FORMAT}); upgrade plait to read it"
    )


def value_from_text(text: str | bytes, where: str, format: int = VALUE_FORMAT) -> Any:
    """The inverse of :func:`value_to_text`; StoreError when the text is not JSON."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise StoreError(f"{where} is not valid JSON (corrupted?): {exc}") from None
    try:
        return decode_value(data, format)
    except RecursionError:
        raise StoreError(f"{where} is nested too deeply to read (corrupted?)") from None
