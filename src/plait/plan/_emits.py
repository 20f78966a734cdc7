"""Which events a step emits, read from its source when the plan is compiled:
``self.emit("x", …)``, ``plait.emit("x", …)`` or ``emit("x", …)`` with a constant name.
The source is parsed with :mod:`ast`, never run. Best effort, for drawing: a step whose
source cannot be read, or that computes the name, shows no emit edge."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from plait.plan._source import _function_ast, _own_nodes


def emitted_events(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The event names ``fn``'s own code passes to ``emit``, in order, without repeats
    (not those of functions defined inside it)."""
    node = _function_ast(fn)
    if node is None:
        return ()
    names: list[str] = []
    for sub in sorted(_own_nodes(node), key=_position):
        name = _emit_name(sub)
        if name is not None and name not in names:
            names.append(name)
    return tuple(names)


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
