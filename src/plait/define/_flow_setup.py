"""What a ``Flow`` class and its constructor decide: the state type and the options.

CrewAI's ``Flow`` is a pydantic model, so its constructor takes its options
(``initial_state``, ``input_provider``...) and the fields a subclass declares; plait's
takes the same names (see :func:`apply_options`).
"""

from __future__ import annotations

import difflib
import logging
import typing
from typing import Any, TypeVar

from plait.core import DefinitionError
from plait.define._state import is_model_type

log = logging.getLogger("plait")

_IGNORED = frozenset(
    {
        "tracing",
        "stream",
        "memory",
        "suppress_flow_events",
        "defer_trace_finalization",
        "execution_context",
        "checkpoint",
    }
)
"""CrewAI constructor options with nothing to do in plait (events, tracing and memory
work differently): accepted, logged, ignored."""

_ON_THE_CLASS = {"name": "name", "max_method_calls": "max_calls", "max_calls": "max_calls"}
"""Options plait reads from the class (its plan, and the runs stored under its name)."""


def with_id(model: type) -> type:
    """``model`` with an ``id`` field (``FlowState``'s when it has none)."""
    from plait.define._flow_state import with_id as derive  # imports pydantic

    return derive(model)


def user_model(state_type: type) -> type:
    """The model a user named, behind the one :func:`with_id` derived from it."""
    from plait.define._flow_state import FlowState

    bases = state_type.__bases__
    if len(bases) == 2 and bases[0] is FlowState and state_type.__name__ == bases[1].__name__:
        return bases[1]
    return state_type


def declared_state(cls: type, flow: type) -> type | None:
    """The state type named by ``Flow[...]``: a pydantic model, or ``None`` for a dict."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if typing.get_origin(base) is not flow:
                continue
            args = typing.get_args(base)
            arg = args[0] if args else Any
            if isinstance(arg, TypeVar) or arg is Any:
                return None  # a generic base: a subclass may name the type
            if (typing.get_origin(arg) or arg) is dict:
                return None
            if is_model_type(arg):
                return arg
            shown = getattr(arg, "__name__", None) or repr(arg)
            raise DefinitionError(
                f"flow {cls.__name__!r}: Flow[{shown}] is not a state type plait can use; "
                "write Flow[M] with a pydantic model M (class M(BaseModel): ...), or "
                "Flow / Flow[dict] for dict state"
            )
    return None


def model_of(initial: Any) -> type | None:
    """The model an ``initial_state`` names: a model class, or a model instance's type."""
    if is_model_type(initial):
        return initial  # type: ignore[no-any-return]
    if initial is not None and is_model_type(type(initial)):
        return type(initial)
    return None


def state_type_of(cls: type, flow: type) -> type | None:
    """``Flow[M]``, else the model that ``initial_state`` names (a class or an instance,
    as in CrewAI), else ``None`` (dict state); a model gets an ``id`` if it has none."""
    declared = declared_state(cls, flow)
    from_initial = model_of(getattr(cls, "initial_state", None))
    if declared is None:
        chosen = from_initial
    else:
        check_fits(cls.__name__, from_initial, declared, "initial_state")
        chosen = declared
    return None if chosen is None else with_id(chosen)


def check_fits(owner: str, model: type | None, declared: type | None, what: str) -> None:
    """``model`` may stand where the flow's state is ``declared``."""
    if model is None or declared is None:
        return
    wanted = user_model(declared)
    if not issubclass(user_model(model), wanted):
        raise DefinitionError(
            f"flow {owner!r}: {what} is a {model.__name__}, but the flow's state is "
            f"Flow[{wanted.__name__}]; make them the same model"
        )


def fields_of(cls: type, flow: type) -> set[str]:
    """Public attributes a Flow subclass declares with a type (CrewAI: pydantic fields),
    which its constructor may set."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is flow or not issubclass(klass, flow):
            continue
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if name.startswith("_") or "ClassVar" in str(annotation):
                continue
            names.add(name)
    return names


def apply_options(flow: Any, options: dict[str, Any], fields: set[str]) -> None:
    """Take ``MyFlow(**options)`` the way CrewAI does: its options and the subclass's
    fields; ``initial_state`` is handled by the caller."""
    cls = type(flow)
    for key, value in options.items():
        if key == "input_provider" or key in fields:
            setattr(flow, key, value)
        elif key in _ON_THE_CLASS:
            attr = _ON_THE_CLASS[key]
            if value != getattr(cls, attr):
                raise TypeError(
                    f"{cls.__name__}({key}=...): plait takes a flow's {attr} from its class, "
                    f"which names its plan and stored runs; set {attr} = {value!r} in the "
                    "class body (or subclass it)"
                )
        elif key == "persistence":
            raise TypeError(
                f"{cls.__name__}(persistence=...): plait stores every run in its store; pass "
                'kickoff(store="sqlite:///runs.db") (or set PLAIT_STORE) instead'
            )
        elif key in _IGNORED:
            log.warning("flow %r: option %s=... is CrewAI's; plait ignores it", cls.name, key)
        else:
            known = ["initial_state", "input_provider", *sorted(fields)]
            near = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            log.warning(
                "flow %r: %s(%s=...) is not an option or a declared field of the flow and "
                "is ignored%s; to put it in the state, pass kickoff(inputs={%r: ...})",
                cls.name,
                cls.__name__,
                key,
                hint,
                key,
            )
