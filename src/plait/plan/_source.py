"""What a step's source says about it: the labels a router returns, the state keys a step
writes. Best effort — a step whose source cannot be read is taken at its word (``labels=``,
``writes=``)."""

from __future__ import annotations

import ast
import enum
import inspect
import textwrap
import types
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "update",
        "add",
        "pop",
        "remove",
        "clear",
        "setdefault",
        "discard",
        "popitem",
        "sort",
        "reverse",
    }
)


@lru_cache(maxsize=4096)
def _function_ast(fn: Callable[..., Any]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _own_nodes(fn_node: ast.AST) -> list[ast.AST]:
    """Nodes of a function body, not descending into nested functions or classes."""
    out: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(fn_node))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _hint_labels(hint: Any) -> list[str] | None:
    """Labels a return annotation allows: ``Literal[...]``, an ``Enum`` (its values), and
    unions or ``Annotated`` of those; ``None`` in a union routes nowhere. ``None`` when
    the annotation allows other values (``str``)."""
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return [_label(m.value) for m in hint]
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return [_label(a) for a in typing.get_args(hint) if a is not None]
    if origin is typing.Annotated:
        return _hint_labels(typing.get_args(hint)[0])
    if origin is typing.Union or origin is types.UnionType:
        out: list[str] = []
        for arg in typing.get_args(hint):
            if arg is type(None):
                continue
            found = _hint_labels(arg)
            if found is None:
                return None
            out.extend(found)
        return out
    return None


def _label(value: Any) -> str:
    """The label a returned value routes to (as ``runtime.route_label``)."""
    if isinstance(value, enum.Enum):
        value = value.value
    return value if isinstance(value, str) else str(value)


def _literal_labels(fn: Callable[..., Any]) -> tuple[str, ...] | None:
    try:
        hint = typing.get_type_hints(fn, include_extras=True).get("return")
    except Exception:
        return None
    found = _hint_labels(hint)
    return tuple(dict.fromkeys(found)) if found else None


def router_labels(fn: Callable[..., Any]) -> tuple[str, ...] | None:
    """The labels a router can return, or ``None`` when they cannot be known statically."""
    from_hint = _literal_labels(fn)
    if from_hint is not None:
        return from_hint
    node = _function_ast(fn)
    if node is None:
        return None
    labels: list[str] = []
    for sub in _own_nodes(node):
        if isinstance(sub, ast.Return):
            found = _constant_strings(sub.value)
            if found is None:
                return None
            labels.extend(label for label in found if label not in labels)
    return tuple(labels) if labels else None


def _constant_strings(value: ast.expr | None) -> list[str] | None:
    """``"a"`` -> ["a"]; ``"a" if c else "b"`` -> ["a", "b"]; ``0`` -> ["0"]; a bare
    ``return`` or ``return None`` -> [] (the branch ends); anything else -> None."""
    if value is None:
        return []
    if isinstance(value, ast.Constant):
        if value.value is None:
            return []
        if isinstance(value.value, str | int | float):
            return [_label(value.value)]
    if isinstance(value, ast.IfExp):
        body, orelse = _constant_strings(value.body), _constant_strings(value.orelse)
        if body is not None and orelse is not None:
            return body + orelse
    return None


def _state_key(node: ast.AST) -> str | None:
    """``self.state.x`` / ``self.state["x"]`` -> ``"x"``."""
    if isinstance(node, ast.Attribute):
        base, key = node.value, node.attr
    elif isinstance(node, ast.Subscript):
        base = node.value
        sl = node.slice
        if not (isinstance(sl, ast.Constant) and isinstance(sl.value, str)):
            return None
        key = sl.value
    else:
        return None
    if (
        isinstance(base, ast.Attribute)
        and base.attr == "state"
        and isinstance(base.value, ast.Name)
        and base.value.id == "self"
    ):
        return key
    return None


def state_writes(fn: Callable[..., Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(keys written, keys written with an augmented assignment like ``+=``)."""
    node = _function_ast(fn)
    if node is None:
        return (), ()
    writes: list[str] = []
    augmented: list[str] = []
    for sub in _own_nodes(node):
        targets: list[ast.AST] = []
        if isinstance(sub, ast.Assign):
            targets = list(sub.targets)
        elif isinstance(sub, ast.AugAssign | ast.AnnAssign):
            targets = [sub.target]
        elif isinstance(sub, ast.Delete):
            targets = list(sub.targets)
        elif (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in _MUTATORS
        ):
            targets = [sub.func.value]
        for target in targets:
            key = _state_key(target)
            if key is not None:
                if key not in writes:
                    writes.append(key)
                if isinstance(sub, ast.AugAssign) and key not in augmented:
                    augmented.append(key)
    return tuple(writes), tuple(augmented)
