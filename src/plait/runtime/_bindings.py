"""Bindings: the code behind each step of a plan, and how to call it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from plait.core import InputError

_NO_KWARGS: dict[str, Any] = {}
"""Never changed: ``fn(*args, **_NO_KWARGS)`` gives the callee a dict of its own."""

Source = Literal["dep", "state", "optional"]
Mode = Literal["none", "payload", "params"]


@dataclass(frozen=True, slots=True)
class Binding:
    """``fn`` and how its arguments are made.

    ``mode`` is ``"none"`` (no arguments), ``"payload"`` (the triggering output) or
    ``"params"`` (workflow tasks: each parameter from a dependency's output or the state).
    ``method``: ``fn`` is a plain function defined on a class and takes the run's owner
    (the flow instance) first, so one binding serves every instance.
    """

    fn: Callable[..., Any]
    is_async: bool
    mode: Mode = "none"
    params: tuple[tuple[str, Source], ...] = ()
    all_deps: tuple[str, ...] = ()
    var_kw: bool = False
    method: bool = False

    def arguments(
        self, owner: Any, payload: Any, outputs: dict[str, Any], state: Any
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        mode = self.mode
        if mode == "none":
            return ((owner,) if self.method else ()), _NO_KWARGS
        if mode == "payload":
            return ((owner, payload) if self.method else (payload,)), _NO_KWARGS
        kwargs: dict[str, Any] = {}
        for name, source in self.params:
            if source == "dep":
                kwargs[name] = outputs[name]
                continue
            if isinstance(state, dict):
                found = name in state
                value = state.get(name)
            else:
                found = hasattr(state, name)
                value = getattr(state, name, None)
            if found:
                kwargs[name] = value
            elif source == "state":
                raise InputError(
                    f"parameter {name!r} is neither one of the task's dependencies nor in the "
                    f"run's inputs; pass inputs={{{name!r}: ...}} or give it a default"
                )
        if self.var_kw:
            for dep in self.all_deps:
                kwargs.setdefault(dep, outputs[dep])
        return ((owner,) if self.method else ()), kwargs
