"""Which classes a stored value may come back as: the type registry of the value codec.

A stored pydantic model, dataclass, enum or named tuple names its class as
``module:Qualname``. Decoding never imports a module named in stored data; the class is
found only when

- this process encoded a value of it (encoding registers every class it tags), or it
  was registered with :func:`register_type`;
- a flow defined in this process names it: its state type, or a type in the annotations
  of its steps, and the types of their fields in turn (:func:`register_definition` does
  the same for a workflow);
- it is one of plait's own result types (``TaskOutput``, ``AgentResult``, ``Response``, …)
  or events, which live in plait's own packages.

Otherwise :func:`find_type` returns None and the value comes back as plain data; the
codec logs a warning once per class.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import logging
import sys
import typing
import weakref
from collections.abc import Iterable
from typing import Any

from plait.define import Flow
from plait.runtime._events import EVENT_TYPES

log = logging.getLogger("plait")

_KNOWN: weakref.WeakValueDictionary[str, type] = weakref.WeakValueDictionary()
"""``module:Qualname`` -> class, for every class registered so far."""

_SCANNED: weakref.WeakSet[type] = weakref.WeakSet()
"""Flow classes whose named types are registered already."""

_OWN: dict[str, tuple[str, ...]] = {
    "plait.llm": (
        "Message",
        "Request",
        "Response",
        "ToolCall",
        "ToolSpec",
        "Usage",
        "StepUsage",
        "RunUsage",
    ),
    "plait.agents": ("AgentResult", "CrewOutput", "TaskOutput"),
}
"""plait's own result types, by the package that exports them: a fixed list, so what a
stored value names selects one of these and never a module of its own choosing."""

_WARNED: set[str] = set()


def _is_model_class(cls: type) -> bool:
    """A pydantic model class (pydantic is never imported here: until some code has,
    no model class exists)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and issubclass(cls, pydantic.BaseModel)


def is_registrable(cls: object) -> bool:
    """Whether values of ``cls`` are stored with a tag naming it."""
    return isinstance(cls, type) and (
        _is_model_class(cls)
        or issubclass(cls, enum.Enum)
        or dataclasses.is_dataclass(cls)
        or (issubclass(cls, tuple) and hasattr(cls, "_fields"))
    )


def type_ref(cls: type) -> str:
    """``module:Qualname`` of ``cls``, registered so that this process decodes it."""
    ref = f"{cls.__module__}:{cls.__qualname__}"
    if _KNOWN.get(ref) is not cls:
        _KNOWN[ref] = cls
    return ref


def register_type(*classes: type) -> None:
    """Let stored values of ``classes`` (pydantic models, dataclasses, enums, named
    tuples) come back as themselves in this process, even before any is encoded here."""
    for cls in classes:
        if not is_registrable(cls):
            raise TypeError(
                f"{cls!r} is not a pydantic model, dataclass, enum or named tuple class"
            )
        type_ref(cls)


def register_definition(definition: Any) -> None:
    """Register the types a flow or workflow names: its state type and the types in its
    steps' annotations (and their fields' types)."""
    found: list[type] = []
    seen: set[int] = set()
    _named(getattr(definition, "__plait_state_type__", None), found, seen, 0)
    steps = getattr(definition, "__plait_steps__", None) or {}
    for step in list(steps.values()):
        for hint in _annotations(getattr(step, "fn", None)):
            _named(hint, found, seen, 0)
    for cls in found:
        type_ref(cls)


def find_type(ref: str) -> type | None:
    """The class ``ref`` names if this process may decode values as it (see the module
    docstring), else None. Imports nothing but plait's own packages."""
    found = _KNOWN.get(ref)
    if found is not None:
        return found
    module, _, qualname = ref.partition(":")
    found = _own(module, qualname)
    if found is None:
        _scan_flows()
        found = _KNOWN.get(ref)
    if found is not None:
        _KNOWN[ref] = found
    return found


def warn_unknown(ref: str, what: str) -> None:
    """Log once per class that a stored value of it comes back as plain data."""
    if ref in _WARNED:
        return
    _WARNED.add(ref)
    log.warning(
        "plait: a stored %s of class %s comes back as plain data: this process does not "
        "know the class (it is found when a flow here names it, when a value of it was "
        "stored here, or after plait.runtime.register_type(%s))",
        what,
        ref,
        ref.rpartition(":")[2] or ref,
    )


def _own(module: str, qualname: str) -> type | None:
    if module == "plait.runtime._events":
        return EVENT_TYPES.get(qualname)
    for package, names in _OWN.items():
        if qualname in names and (module == package or module.startswith(package + ".")):
            found = getattr(importlib.import_module(package), qualname, None)
            if isinstance(found, type) and found.__module__ == module:
                return found
    return None


def _scan_flows() -> None:
    """Register the types named by every Flow class defined in this process so far."""
    stack: list[type] = [Flow]
    while stack:
        sub: type
        for sub in stack.pop().__subclasses__():
            if sub not in _SCANNED:
                _SCANNED.add(sub)
                try:
                    register_definition(sub)
                except Exception as exc:  # a flow with odd annotations: skip it
                    log.debug("plait: types of flow %r not registered: %r", sub, exc)
            stack.append(sub)


def _annotations(fn: Any) -> Iterable[Any]:
    if fn is None:
        return ()
    target = inspect.unwrap(fn)
    try:
        return inspect.get_annotations(target, eval_str=True).values()
    except Exception:  # names that do not resolve: keep the ones that are types already
        try:
            return [a for a in inspect.get_annotations(target).values() if not isinstance(a, str)]
        except Exception:
            return ()


def _named(hint: Any, found: list[type], seen: set[int], depth: int) -> None:
    """Collect the registrable classes ``hint`` names, through generics and fields."""
    if hint is None or depth > 12 or id(hint) in seen:
        return
    seen.add(id(hint))
    for arg in typing.get_args(hint):
        _named(arg, found, seen, depth + 1)
    origin = typing.get_origin(hint)
    if origin is not None:
        _named(origin, found, seen, depth + 1)
        return
    if not is_registrable(hint):
        return
    found.append(hint)
    if _is_model_class(hint):
        for info in hint.model_fields.values():
            _named(info.annotation, found, seen, depth + 1)
    elif dataclasses.is_dataclass(hint):
        try:
            hints = typing.get_type_hints(hint)
        except Exception:
            hints = {f.name: f.type for f in dataclasses.fields(hint)}
        for item in hints.values():
            if not isinstance(item, str):
                _named(item, found, seen, depth + 1)
