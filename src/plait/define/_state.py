"""Run state: a dict, or an instance of a pydantic model the flow names."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from plait.core import InputError

Reducers = Mapping[str, Callable[[Any, Any], Any]]


def is_model_type(tp: object) -> bool:
    """Whether ``tp`` is a pydantic model class (checked without importing pydantic)."""
    return isinstance(tp, type) and hasattr(tp, "model_validate") and hasattr(tp, "model_fields")


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
    if state_type is not None and is_model_type(state_type):
        for name, info in state_type.model_fields.items():  # type: ignore[attr-defined]
            for meta in info.metadata:
                if isinstance(meta, Reducer):
                    out[name] = meta.fn
    out.update(declared)
    return out


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


class ReducingDict(dict[str, Any]):
    """Dict state whose keys with a reducer merge what is assigned to them."""

    __slots__ = ("reducers",)

    def __init__(self, data: Mapping[str, Any], reducers: Reducers) -> None:
        super().__init__(data)
        self.reducers = reducers

    def __setitem__(self, key: str, value: Any) -> None:
        fn = self.reducers.get(key)
        if fn is not None and key in self:
            value = fn(dict.__getitem__(self, key), value)
        dict.__setitem__(self, key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


_REDUCING_MODELS: dict[tuple[type, tuple[str, ...]], type] = {}


def _reducing_model(model: type, reducers: Reducers) -> type:
    """A subclass of ``model`` whose reducer fields merge what is assigned to them."""
    key = (model, tuple(sorted(reducers)))
    found = _REDUCING_MODELS.get(key)
    if found is not None:
        return found
    fns = dict(reducers)
    setattr_of_model: Any = model.__setattr__

    def __setattr__(self: Any, name: str, value: Any) -> None:
        fn = fns.get(name)
        if fn is not None:
            value = fn(getattr(self, name), value)
        setattr_of_model(self, name, value)

    sub = type(
        model.__name__, (model,), {"__setattr__": __setattr__, "__module__": model.__module__}
    )
    sub.__qualname__ = model.__qualname__
    _REDUCING_MODELS[key] = sub
    return sub


def build_state(
    owner: str,
    state_type: type | None,
    initial: Any,
    inputs: Mapping[str, Any] | None,
    run_id: str,
    reducers: Reducers | None = None,
) -> Any:
    """A fresh state for a run: ``initial`` (or the type's defaults) updated by ``inputs``.

    Keys with a reducer merge later assignments (see :class:`Reducer`). Raises
    :class:`InputError` naming the flow, the field and the fix.
    """
    inputs = dict(inputs or {})
    if state_type is None or not is_model_type(state_type):
        base = copy.deepcopy(initial) if isinstance(initial, Mapping) else {}
        plain = dict(base)
        plain.update(inputs)
        plain.setdefault("id", run_id)
        return ReducingDict(plain, dict(reducers)) if reducers else plain
    if reducers:
        state_type = _reducing_model(state_type, reducers)
    fields = state_type.model_fields  # type: ignore[attr-defined]
    data: dict[str, Any] = {}
    if initial is not None:
        data.update(initial.model_dump() if hasattr(initial, "model_dump") else dict(initial))
    unknown = sorted(set(inputs) - set(fields))
    extra = state_type.model_config.get("extra")  # type: ignore[attr-defined]
    if unknown and extra != "allow":
        raise InputError(
            f"flow {owner!r}: unknown input(s) {', '.join(map(repr, unknown))} for state "
            f"{state_type.__name__}; its fields are: {', '.join(fields)}"
        )
    data.update(inputs)
    if "id" in fields and "id" not in data:
        data["id"] = run_id
    try:
        return state_type.model_validate(data)  # type: ignore[attr-defined]
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


def state_dict(state: Any) -> dict[str, Any]:
    """The live mapping behind a state (the dict itself, or a model's ``__dict__``)."""
    if isinstance(state, dict):
        return state
    return state.__dict__  # type: ignore[no-any-return]
