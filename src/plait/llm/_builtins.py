"""A few safe built-in tools: arithmetic (no ``eval``), HTTP GET on an allow-list, and
reading files inside one directory."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from plait.core import ToolError
from plait.llm._tools import Tool

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


MAX_BITS = 4096
"""The largest integer the calculator builds (about 1,200 digits): bigger arithmetic holds
the interpreter for minutes, and no timeout can stop it."""


def _checked(value: Any) -> Any:
    if isinstance(value, complex):
        raise ValueError("the result is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ValueError(f"a number larger than {MAX_BITS} bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the result is not a finite number")
    return value


def _too_big(op: ast.operator, left: Any, right: Any) -> bool:
    """Whether ``left op right`` would build an integer past MAX_BITS (checked first)."""
    if not (isinstance(left, int) and isinstance(right, int)):
        return False
    if isinstance(op, ast.Pow):
        return right > 0 and max(left.bit_length(), 1) * right > MAX_BITS
    if isinstance(op, ast.Mult):
        return left.bit_length() + right.bit_length() > MAX_BITS
    return False


def _evaluate(node: ast.AST) -> Any:
    return _checked(_evaluate_node(node))


def _evaluate_node(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if _too_big(node.op, left, right) or (isinstance(node.op, ast.Pow) and abs(right) > 10_000):
            raise ValueError(f"a number larger than {MAX_BITS} bits")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(a) for a in node.args))
    raise ValueError(f"{ast.unparse(node)!r} is not arithmetic")


def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression: + - * / // % **, parentheses, pi, e, and sqrt,
    log, exp, sin, cos, tan, abs, round, min, max.

    Args:
        expression: The expression, for example "(2 + 3) * sqrt(16)".
    """
    if len(expression) > 500:
        raise ValueError("expression longer than 500 characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ValueError(f"{expression!r} is not an arithmetic expression") from None
    result = _evaluate(tree)
    return float(result) if isinstance(result, int | float) else result


calculator = Tool(calculate, name="calculator", timeout=5.0)
"""Arithmetic without ``eval``: the expression is parsed and only numbers, operators and a
few math functions are evaluated."""


def http_get(allow: Iterable[str], *, timeout: float = 10.0, max_bytes: int = 200_000) -> Tool:
    """A tool fetching ``http(s)`` URLs whose host is in ``allow`` (exact names, or
    ``.example.com`` for a domain and its subdomains); the text, cut at ``max_bytes``."""
    hosts = [h.lower() for h in allow]
    if not hosts:
        raise ValueError("http_get needs at least one allowed host")

    def allowed(host: str) -> bool:
        return any(
            host == h or (h.startswith(".") and (host.endswith(h) or host == h[1:])) for h in hosts
        )

    async def fetch(url: str) -> str:
        """Fetch a web page and return its text.

        Args:
            url: The http or https address to fetch.
        """
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not allowed(host):
            raise ToolError(
                f"http_get may fetch only http(s) URLs on {', '.join(hosts)}; not {url!r}",
                tool="http_get",
            )
        import httpx

        body = bytearray()
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            async for chunk in response.aiter_bytes():
                body.extend(chunk[: max_bytes - len(body)])
                if len(body) >= max_bytes:
                    break
            status, encoding = response.status_code, response.encoding or "utf-8"
        return f"HTTP {status}\n{body.decode(encoding, errors='replace')}"

    return Tool(fetch, name="http_get", timeout=timeout + 1)


def read_file(root: str | Path, *, max_bytes: int = 200_000) -> Tool:
    """A tool reading text files inside ``root`` (never outside it, links included)."""
    base = Path(root).resolve()
    if not base.is_dir():
        raise ValueError(f"read_file: {root} is not a directory")

    def read(path: str) -> str:
        """Read a text file.

        Args:
            path: The file's path, relative to the directory the tool may read.
        """
        target = (base / path).resolve()
        if not target.is_relative_to(base):
            raise ToolError(
                f"read_file may read only inside {base}; not {path!r}", tool="read_file"
            )
        if not target.is_file():
            raise ToolError(f"no file {path!r} in {base}", tool="read_file")
        with target.open("rb") as f:
            return f.read(max_bytes).decode("utf-8", errors="replace")

    return Tool(read, name="read_file", timeout=10.0)
