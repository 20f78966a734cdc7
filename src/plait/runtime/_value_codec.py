"""Values as JSON data with type tags: the one encoding every store uses (format 2).

Plain JSON data (str, int, float, bool, None, lists, dicts with str keys) is stored as
itself. Anything else becomes a dict with a single ``$``-key, its *tag*::

    {"$tuple": [...]}  {"$set": [...]}  {"$frozenset": [...]}  {"$bytes": "<base64>"}
    {"$bytearray": "<base64>"}  {"$map": [[key, value], ...]}  (a dict with non-str keys)
    {"$datetime": "<ISO 8601>"}  {"$date": …}  {"$time": …}  {"$timedelta": [d, s, µs]}
    {"$decimal": "1.10"}  {"$uuid": "…"}  {"$path": "…"}  {"$complex": [re, im]}
    {"$range": [start, stop, step]}
    {"$float": "nan" | "inf" | "-inf"}
    {"$model": ["module:Qualname", data]}      (pydantic: ``model_dump``, then tags)
    {"$dataclass": ["module:Qualname", {field: value}]}
    {"$enum": ["module:Qualname", value]}  {"$namedtuple": ["module:Qualname", [...]]}

User data can never read as a tag: a dict key that starts with ``$`` is stored with one
more ``$`` in front (``{"$tuple": 1}`` is stored as ``{"$$tuple": 1}``). Classes are found
through :mod:`plait.runtime._types`, never by importing what a stored value names; an
unknown class comes back as plain data, with a warning in the log (decoding:
:mod:`plait.runtime._value_decode`).

What cannot be stored fails with :class:`~plait.core.StoreError` naming the field path
(``output.items[3].when``): objects of other types, a str with a lone surrogate, an int
with more than 4300 digits, a container that contains itself, and nesting deeper than
:data:`MAX_DEPTH`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
import math
import pathlib
import sys
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from plait.core import StoreError
from plait.runtime._types import type_ref

if TYPE_CHECKING:
    from pydantic import BaseModel

VALUE_FORMAT = 2
"""Version of the stored value form (format 1: tuples, bytes and models only)."""

MAX_DEPTH = 100
"""How deeply containers may nest in a stored value (JSON parsers and the decoder
recurse once or twice a level)."""

_MAX_DIGITS = 4300
"""Python's own limit on int <-> str conversion, which JSON goes through."""
SMALL_INT = 1 << 1000
"""Ints with a smaller magnitude have fewer than 4300 digits: stored as they are."""
_SMALL = SMALL_INT
WORD_LO, WORD_HI = -(1 << 62), 1 << 62
"""Bounds of the ints checked first, on every step: comparing with a machine-word int is
cheap, with ``SMALL_INT`` (a 1000-bit int) it is not; ints past these take the exact test."""


class Unstorable(Exception):
    """A value the codec cannot store; ``path`` is filled in on the way out."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
        self.path: list[str] = []


def _field(key: Any) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f".{key}"
    return f"[{key!r}]"


def to_json_value(value: Any, where: str) -> Any:
    """``value`` as JSON data with type tags (see the module docstring); ``where`` names
    it in errors (``"StepCompleted #4 output"``)."""
    try:
        return encode(value)
    except Unstorable as exc:
        raise StoreError(unstorable_message(where, exc)) from None


def encode(value: Any) -> Any:
    """:func:`to_json_value` without a name: raises :class:`Unstorable`."""
    if is_plain(value, 0):
        return value
    try:
        return _Encoder().encode(value, 0)
    except RecursionError:
        raise Unstorable(
            f"it nests more deeply than plait can store ({MAX_DEPTH} levels)"
        ) from None


def is_plain(v: Any, depth: int) -> bool:
    """Whether ``v`` is stored as itself: JSON data with ASCII text, no ``$`` keys, no
    NaN, shallow. Quick, so that the common case costs little (in memory too); False
    sends a value through the full encoder, which decides."""
    t = type(v)
    if t is str:
        s: str = v
        return s.isascii()
    if t is int:
        n: int = v
        return WORD_LO < n < WORD_HI or -_SMALL < n < _SMALL
    if t is float:
        f: float = v
        return f - f == 0.0
    if t is bool or v is None:
        return True
    if depth > 8:
        return False
    if t is dict:
        for k, x in v.items():
            if type(k) is not str or k[:1] == "$" or not k.isascii() or not is_plain(x, depth + 1):
                return False
        return True
    if t is list:
        for x in v:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not is_plain(x, depth + 1):
                return False
        return True
    return False


def is_model(v: Any) -> bool:
    """Whether ``v`` is a pydantic model instance. pydantic is imported only when some
    code uses it, and no model exists before: a run of a dict-state flow never loads it
    (about 8 MB less memory, and a faster first run)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(v, pydantic.BaseModel)


def surely_storable(v: Any, depth: int) -> bool:
    """A quick yes for common values (JSON data with ASCII text, tuples, shallow); False
    means "ask the encoder", not "cannot be stored"."""
    t = type(v)
    if t is str:
        s: str = v
        return s.isascii()
    if t is int:
        n: int = v
        return WORD_LO < n < WORD_HI or -_SMALL < n < _SMALL
    if t is float or t is bool or v is None:
        return True
    if depth > 8:
        return False
    if t is dict:
        for k, x in v.items():
            if type(k) is not str or not k.isascii() or not surely_storable(x, depth + 1):
                return False
        return True
    if t is list or t is tuple:
        for x in v:  # noqa: SIM110 - a loop is faster than all() over a generator
            if not surely_storable(x, depth + 1):
                return False
        return True
    return False


def unstorable_message(where: str, exc: Unstorable) -> str:
    """``<where><field path> cannot be stored: <why>``."""
    parts = exc.path[::-1]
    if len(parts) > 12:
        parts = [*parts[:6], f"…({len(parts) - 10} levels)…", *parts[-4:]]
    path = "".join(parts)
    return f"{where}{path} cannot be stored: {exc.what}"


class _Encoder:
    """One encoding pass: the containers on the current path, to refuse cycles."""

    __slots__ = ("lenient", "on_path")

    def __init__(self) -> None:
        self.on_path: set[int] = set()
        self.lenient = 0
        """>0 inside a model's dump: a value of an unknown type is stored as pydantic's
        JSON form of it, which the model's validation turns back into its type."""

    def encode(self, v: Any, depth: int) -> Any:
        t = type(v)
        if t is str:
            return v if v.isascii() else _text(v)
        if t is int:
            return v if WORD_LO < v < WORD_HI or -_SMALL < v < _SMALL else _big(v)
        if t is float:
            return v if math.isfinite(v) else {"$float": repr(v)}
        if t is bool or v is None:
            return v
        if t is dict:
            return self._dict(v, depth)
        if t is list:
            return self._items(v, depth)
        if t is tuple:
            return {"$tuple": self._items(v, depth)}
        return self._other(v, t, depth)

    def _enter(self, v: Any, depth: int) -> int:
        if depth >= MAX_DEPTH:
            raise Unstorable(f"it nests containers more than {MAX_DEPTH} levels deep")
        key = id(v)
        if key in self.on_path:
            raise Unstorable(f"this {type(v).__name__} contains itself (a cycle)")
        self.on_path.add(key)
        return key

    def _dict(self, d: dict[Any, Any], depth: int) -> Any:
        key_id = self._enter(d, depth)
        try:
            for k in d:
                if type(k) is not str:
                    return {"$map": self._pairs(d, depth)}
            out: dict[str, Any] = {}
            for k, item in d.items():
                try:
                    if not k.isascii():
                        _text(k)
                    out["$" + k if k[:1] == "$" else k] = self.encode(item, depth + 1)
                except Unstorable as exc:
                    exc.path.append(_field(k))
                    raise
            return out
        finally:
            self.on_path.discard(key_id)

    def _pairs(self, d: dict[Any, Any], depth: int) -> list[list[Any]]:
        out: list[list[Any]] = []
        for k, item in d.items():
            try:
                out.append([self.encode(k, depth + 1), self.encode(item, depth + 1)])
            except Unstorable as exc:
                exc.path.append(_field(k))
                raise
        return out

    def _items(self, seq: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        key_id = self._enter(seq, depth)
        try:
            out: list[Any] = []
            for i, item in enumerate(seq):
                try:
                    out.append(self.encode(item, depth + 1))
                except Unstorable as exc:
                    exc.path.append(f"[{i}]")
                    raise
            return out
        finally:
            self.on_path.discard(key_id)

    def _set(self, s: set[Any] | frozenset[Any], depth: int) -> list[Any]:
        key_id = self._enter(s, depth)
        try:
            items = []
            for item in s:
                try:
                    items.append(self.encode(item, depth + 1))
                except Unstorable as exc:
                    exc.path.append(f"{{{item!r}}}")
                    raise
            # in a stable order, so equal sets encode (and hash, as cache keys) the same
            return sorted(items, key=lambda x: json.dumps(x, sort_keys=True))
        finally:
            self.on_path.discard(key_id)

    def _other(self, v: Any, t: type, depth: int) -> Any:
        if isinstance(v, enum.Enum):
            return {"$enum": [type_ref(t), self.encode(v.value, depth + 1)]}
        if is_model(v):
            return {"$model": [type_ref(t), self._model(v, depth)]}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {"$dataclass": [type_ref(t), self._dataclass(v, depth)]}
        if t is bytes:
            return {"$bytes": base64.b64encode(v).decode("ascii")}
        if t is bytearray:
            return {"$bytearray": base64.b64encode(v).decode("ascii")}
        if t is set or t is frozenset:
            return {f"${t.__name__}": self._set(v, depth)}
        if t is dt.datetime:
            return {"$datetime": v.isoformat()}
        if t is dt.date:
            return {"$date": v.isoformat()}
        if t is dt.time:
            return {"$time": v.isoformat()}
        if t is dt.timedelta:
            return {"$timedelta": [v.days, v.seconds, v.microseconds]}
        if t is Decimal:
            return {"$decimal": str(v)}
        if t is uuid.UUID:
            return {"$uuid": str(v)}
        if t is range:
            return {"$range": [self.encode(n, depth) for n in (v.start, v.stop, v.step)]}
        if t is complex:
            return {"$complex": [self.encode(v.real, depth), self.encode(v.imag, depth)]}
        if isinstance(v, pathlib.Path):
            return {"$path": _text(str(v))}
        if isinstance(v, tuple) and hasattr(t, "_fields"):
            return {"$namedtuple": [type_ref(t), self._items(v, depth)]}
        if isinstance(v, str):  # a subclass without a tag of its own: as its base
            return self.encode(str.__str__(v), depth)
        for base in (int, float, dict, list, tuple, set, frozenset, bytes):
            if isinstance(v, base):
                convert: Any = base
                return self.encode(convert(v), depth)
        if self.lenient:  # inside a model's dump: pydantic is loaded
            from pydantic_core import PydanticSerializationError, to_jsonable_python

            try:
                return self.encode(to_jsonable_python(v), depth)
            except PydanticSerializationError:
                pass
        raise Unstorable(
            f"it holds a {t.__module__}.{t.__qualname__}, which plait cannot store; store "
            "JSON data, or a pydantic model, dataclass, enum, tuple, set, bytes, datetime, "
            "Decimal or UUID (or convert it to one)"
        )

    def _model(self, v: BaseModel, depth: int) -> Any:
        from pydantic_core import PydanticSerializationError

        self._enter(v, depth)
        try:
            data = v.model_dump(mode="python", by_alias=True, round_trip=True)
        except (PydanticSerializationError, ValueError) as exc:
            raise Unstorable(f"pydantic cannot serialise this {type(v).__name__}: {exc}") from None
        finally:
            self.on_path.discard(id(v))
        self.lenient += 1
        try:
            return self.encode(data, depth + 1)
        finally:
            self.lenient -= 1

    def _dataclass(self, v: Any, depth: int) -> dict[str, Any]:
        key_id = self._enter(v, depth)
        try:
            out: dict[str, Any] = {}
            for f in dataclasses.fields(v):
                try:
                    out[f.name] = self.encode(getattr(v, f.name), depth + 1)
                except Unstorable as exc:
                    exc.path.append(f".{f.name}")
                    raise
                except AttributeError:
                    continue  # a slot never set
            return out
        finally:
            self.on_path.discard(key_id)


def _text(s: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Unstorable(
            f"its text holds {s[exc.start]!r} at position {exc.start}, a lone surrogate "
            "that UTF-8 cannot hold (text decoded with errors='surrogateescape'?)"
        ) from None
    return s


def _big(n: int) -> int:
    try:
        digits = len(str(abs(n)))
    except ValueError:
        digits = _MAX_DIGITS + 1
    if digits > _MAX_DIGITS:
        raise Unstorable(
            f"it holds an int with more than {_MAX_DIGITS} digits; store it as text or bytes"
        )
    return n


def value_to_text(value: Any, where: str) -> str:
    """``value`` as JSON text in the current format; StoreError naming ``where`` and the
    field when it cannot be stored."""
    data = to_json_value(value, where)
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError) as exc:  # not expected: to_json_value checks
        raise StoreError(f"{where} cannot be stored as JSON: {exc}") from None
