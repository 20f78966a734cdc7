"""Which events a step emits, read from its source: ``self.emit("x", …)``,
``plait.emit("x", …)`` or ``emit("x", …)`` with a constant name. Best effort, for drawing
only: a step whose code is not loaded (a plan read from JSON, a flow defined inside a
function) or that computes the name shows no emit edge."""

from __future__ import annotations

import ast
import sys
from typing import Any

from plait.plan._model import PlanStep
from plait.plan._source import _function_ast, _own_nodes


def emitted_events(step: PlanStep) -> tuple[str, ...]:
    """The event names ``step``'s own code passes to ``emit``, in order, without repeats."""
    fn = _loaded(step.ref)
    node = _function_ast(fn) if callable(fn) else None
    if node is None:
        return ()
    names: list[str] = []
    for sub in sorted(_own_nodes(node), key=_position):
        name = _emit_name(sub)
        if name is not None and name not in names:
            names.append(name)
    return tuple(names)


def _loaded(ref: str) -> Any:
    """The object at ``module:qualname`` when its module is already imported; imports
    nothing (drawing a plan never runs user code)."""
    module_name, _, qualname = ref.partition(":")
    obj: Any = sys.modules.get(module_name)
    if obj is None or not qualname or "<" in qualname:
        return None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _emit_name(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called != "emit":
        return None
    arg: ast.expr | None = node.args[0] if node.args else None
    for kw in node.keywords:
        if kw.arg == "name":
            arg = kw.value
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
