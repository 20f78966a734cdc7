"""Run state: a dict, or an instance of a pydantic model the flow names."""

from __future__ import annotations

import copy
import difflib
import functools
import logging
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, Literal, Self

from plait.core import DefinitionError, InputError

Reducers = Mapping[str, Callable[[Any, Any], Any]]

log = logging.getLogger("plait")

TRIGGER_PAYLOAD = "crewai_trigger_payload"
"""The input CrewAI passes to start steps that take a parameter of this name."""


_RANDOM: list[bytes] = []
"""16 random bytes for each of the next ids, read from ``os.urandom`` 4 KiB at a time: one
system call per 256 ids, not one per id (a run makes one). ``list.pop`` is atomic, so two
threads never take the same bytes; a forked child starts with none of its parent's."""


def _forget_random() -> None:
    _RANDOM.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, where there is no fork
    os.register_at_fork(after_in_child=_forget_random)


def new_state_id() -> str:
    """A fresh state (and flow run) id: a version-4 UUID string, as CrewAI's ``FlowState``
    makes (formatted here: ``str(uuid.uuid4())`` costs twice as much, once per run)."""
    try:
        b = bytearray(_RANDOM.pop())
    except IndexError:
        chunk = os.urandom(4096)
        _RANDOM.extend(chunk[i : i + 16] for i in range(16, 4096, 16))
        b = bytearray(chunk[:16])
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ATOMIC = frozenset({str, int, float, bool, bytes, type(None)})


def deep_copied(data: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` as a dict; a plain copy when every value is an immutable
    scalar (the common initial state, and far cheaper than ``copy.deepcopy``)."""
    plain = dict(data)
    for value in plain.values():
        if type(value) not in _ATOMIC:
            return copy.deepcopy(plain)
    return plain


def is_model_type(tp: object) -> bool:
    """Whether ``tp`` is a pydantic model class (checked without importing pydantic)."""
    if not isinstance(tp, type):
        return False
    try:
        return _is_model_class(tp)
    except TypeError:  # a class whose metaclass makes it unhashable
        return hasattr(tp, "model_validate") and hasattr(tp, "model_fields")


@functools.lru_cache(maxsize=1024)  # asked several times a run, of a few classes
def _is_model_class(tp: type) -> bool:
    return hasattr(tp, "model_validate") and hasattr(tp, "model_fields")


def state_fields(state_type: type | None) -> tuple[str, ...] | None:
    """Field names of a model state, or ``None`` for free-form dict state."""
    if state_type is None or not is_model_type(state_type):
        return None
    return tuple(state_type.model_fields)  # type: ignore[attr-defined]


def reducers_of(
    state_type: type | None, declared: Reducers
) -> dict[str, Callable[[Any, Any], Any]]:
    """Reducers for state keys: ``Annotated[T, reducer(fn)]`` fields plus ``declared``."""
    out: dict[str, Callable[[Any, Any], Any]] = {}
    if is_model_type(state_type):
        if getattr(state_type, "__pydantic_complete__", False):
            out.update(_field_reducers(state_type))
        else:  # forward references not resolved yet: model_rebuild() may add fields
            out.update(_field_reducers.__wrapped__(state_type))
    out.update(declared)
    return out


@functools.lru_cache(maxsize=1024)  # once per state model, not once per run
def _field_reducers(state_type: type) -> tuple[tuple[str, Callable[[Any, Any], Any]], ...]:
    return tuple(
        (name, meta.fn)
        for name, info in state_type.model_fields.items()  # type: ignore[attr-defined]
        for meta in info.metadata
        if isinstance(meta, Reducer)
    )


class Reducer:
    """Marks a state field that parallel steps may both write: ``Annotated[T, reducer(f)]``.

    When a step assigns such a field, plait stores ``f(current, assigned)``: assign your
    contribution (``self.state.notes = ["mine"]`` with ``operator.add``), not the sum.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any, Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"reducer() needs a function of (current, new), got {fn!r}")
        self.fn = fn

    def __repr__(self) -> str:
        return f"reducer({getattr(self.fn, '__name__', self.fn)!r})"


def reducer(fn: Callable[[Any, Any], Any]) -> Reducer:
    """Annotate a state field with how to merge writes from parallel steps."""
    return Reducer(fn)


current_step: ContextVar[Any] = ContextVar("plait_step", default=None)
"""The running step's context (set by the runtime); state writes are credited to it."""


class StateDict(dict[str, Any]):
    """The mapping behind a run's state (a dict state itself, or a model's ``__dict__``).

    It notes which step last assigned each key (``writers``), so a change is credited to
    the step that made it even while other steps run, and it merges assignments to keys
    that have a reducer.
    """

    __slots__ = ("reducers", "writers")

    def __init__(self, data: Mapping[str, Any], reducers: Reducers | None = None) -> None:
        super().__init__(data)
        self.reducers = reducers or {}
        self.writers: dict[str, str] = {}

    def _note(self, key: str) -> None:
        ctx = current_step.get()
        if ctx is not None:
            self.writers[key] = ctx.step

    def __setitem__(self, key: str, value: Any) -> None:
        if self.reducers:
            fn = self.reducers.get(key)
            if fn is not None and key in self:
                value = fn(dict.__getitem__(self, key), value)
        dict.__setitem__(self, key, value)
        ctx = current_step.get()  # _note(), inlined on this hot path
        if ctx is not None:
            self.writers[key] = ctx.step

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        self._note(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> Self:  # type: ignore[override,misc]
        self.update(other)  # state |= {...}: through reducers and writer tracking
        return self

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self._note(key)
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        key, value = dict.popitem(self)
        self._note(key)
        return key, value

    def clear(self) -> None:
        for key in self:
            self._note(key)
        dict.clear(self)


def build_state(
    owner: str,
    state_type: type | None,
    initial: Any,
    inputs: Mapping[str, Any] | None,
    run_id: str,
    reducers: Reducers | None = None,
    *,
    unknown: Literal["error", "ignore"] = "error",
) -> Any:
    """A fresh state for a run: ``initial`` (or the type's defaults) updated by ``inputs``.

    Keys with a reducer merge later assignments (see :class:`Reducer`). Raises
    :class:`InputError` naming the flow, the field and the fix. ``unknown="ignore"``
    (flows, as in CrewAI): inputs a model state has no field for are left out, with a
    warning on the ``plait`` logger that names the nearest field.
    """
    inputs = dict(inputs or {})
    if state_type is None or not is_model_type(state_type):
        plain = deep_copied(initial) if isinstance(initial, Mapping) else {}
        plain.update(inputs)
        if _unset(plain.get("id")):
            plain["id"] = run_id
        return StateDict(plain, reducers)
    problem = assignment_problem(state_type, reducers or {})
    if problem:
        raise DefinitionError(f"flow {owner!r}: {problem}")
    fields = state_type.model_fields  # type: ignore[attr-defined]
    data: dict[str, Any] = {}
    if initial is not None:
        data.update(initial.model_dump() if hasattr(initial, "model_dump") else dict(initial))
    strays = sorted(set(inputs) - set(fields))
    extra = state_type.model_config.get("extra")  # type: ignore[attr-defined]
    if strays and extra != "allow":
        if unknown == "error" or extra == "forbid":
            raise InputError(
                f"flow {owner!r}: unknown input(s) {', '.join(map(repr, strays))} for state "
                f"{state_type.__name__}; its fields are: {', '.join(fields)}"
            )
        _ignored(owner, state_type.__name__, strays, tuple(fields))
        inputs = {k: v for k, v in inputs.items() if k in fields}
    data.update(inputs)
    if "id" in fields and _unset(data.get("id")) and _takes_run_id(fields["id"]):
        data["id"] = run_id
    try:
        model = state_type.model_validate(data)  # type: ignore[attr-defined]
    except Exception as exc:  # pydantic.ValidationError, without importing pydantic here
        errors = getattr(exc, "errors", None)
        if not callable(errors):
            raise
        parts = []
        for err in errors():
            loc = ".".join(str(x) for x in err.get("loc", ())) or "(state)"
            msg = err.get("msg", "invalid")
            if err.get("type") == "missing":
                parts.append(f"{loc}: missing — pass it in inputs={{{loc!r}: ...}}")
            else:
                got = err.get("input")
                parts.append(f"{loc}: {msg} (got {got!r})")
        raise InputError(
            f"flow {owner!r}: inputs do not fit state {state_type.__name__}:\n  "
            + "\n  ".join(parts)
        ) from None
    # pydantic assigns fields through the instance's __dict__: a StateDict there sees them
    # (validate_assignment=True replaces __dict__ instead; see live_mapping()).
    object.__setattr__(model, "__dict__", StateDict(model.__dict__, reducers))
    return model


def _ignored(owner: str, model: str, strays: list[str], fields: tuple[str, ...]) -> None:
    """Log the inputs a model state leaves out (the trigger payload is expected)."""
    shown = []
    for key in strays:
        if key == TRIGGER_PAYLOAD:
            continue
        near = difflib.get_close_matches(key, fields, n=1)
        shown.append(f"{key!r} (did you mean {near[0]!r}?)" if near else repr(key))
    if shown:
        log.warning(
            "flow %r: input(s) %s are not fields of state %s and are ignored; its fields are: %s",
            owner,
            ", ".join(shown),
            model,
            ", ".join(fields),
        )


def managed_id(state: Any) -> str:
    """The id of ``state`` when plait keeps the run id there (a dict state's ``"id"``, or
    a model's ``id`` field that :func:`build_state` fills), else ``""``."""
    if isinstance(state, Mapping):
        value = state.get("id")
    else:
        info = getattr(type(state), "model_fields", {}).get("id")
        if info is None or not _takes_run_id(info):
            return ""
        value = getattr(state, "id", None)
    return value if isinstance(value, str) else ""


def fills_id(state_type: type) -> bool:
    """Whether :func:`build_state` puts the run id in a model's ``id`` field."""
    info = getattr(state_type, "model_fields", {}).get("id")
    return info is not None and _takes_run_id(info)


def explicit_id(state: Any) -> bool:
    """Whether a model instance's ``id`` was given, rather than made by its default."""
    fields_set = getattr(state, "model_fields_set", None)
    return fields_set is None or "id" in fields_set


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value)


def _takes_run_id(info: Any) -> bool:
    """Whether a model's ``id`` field should hold the run id: it is required, defaults
    to ``""``/``None``, or is :class:`plait.FlowState`'s, and it accepts a str
    (``id: UUID = Field(default_factory=uuid4)`` keeps its own value)."""
    if getattr(info, "default_factory", None) is new_state_id:
        return True
    if not (info.is_required() or _unset(info.default)):
        return False
    annotation = info.annotation
    if annotation in (str, Any, None):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return str in typing.get_args(annotation) or Any in typing.get_args(annotation)
    return False


def assignment_problem(state_type: type | None, reducers: Iterable[str]) -> str:
    """Why a state model cannot be used with its reducers ("" when it can).

    With ``validate_assignment=True`` pydantic replaces the model's ``__dict__`` on every
    assignment, so plait's mapping, which applies reducers, no longer sees the writes.
    """
    if state_type is None or not is_model_type(state_type):
        return ""
    config = state_type.model_config  # type: ignore[attr-defined]
    keys = sorted(reducers)
    if not (config.get("validate_assignment") and keys):
        return ""
    return (
        f"state {state_type.__name__} has validate_assignment=True and reducers for "
        f"{', '.join(map(repr, keys))}; pydantic replaces the model's fields on each "
        "validated assignment, so plait cannot apply the reducers. Drop "
        "validate_assignment, or the reducers"
    )


def live_mapping(state: Any) -> dict[str, Any]:
    """The mapping behind a state now: a dict state itself, or a model's ``__dict__``.

    Read it again after user code ran: a pydantic model with ``validate_assignment=True``
    replaces its ``__dict__`` (a plain dict, no longer a :class:`StateDict`) on every
    validated assignment.
    """
    if isinstance(state, dict):
        return state
    return state.__dict__  # type: ignore[no-any-return]
