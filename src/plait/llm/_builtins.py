"""A few safe built-in tools: arithmetic (no ``eval``), HTTP GET on an allow-list, and
reading files inside one directory."""

from __future__ import annotations

import ast
import errno
import math
import operator
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from plait.core import ToolError, require_extra
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

MAX_BITS = 4096
"""The largest integer the calculator builds (about 1,200 digits): bigger arithmetic holds
the interpreter for minutes, and no timeout can stop it."""
MAX_DIGITS = int(MAX_BITS * math.log10(2))
"""The most decimal digits ``round`` may keep or drop (1233, the digits of a MAX_BITS
integer): ``round(1, -10**7)`` builds ``10**10**7`` first, holding the interpreter."""
MAX_EXPONENT = 10_000
MAX_DEPTH = 300
"""How deep an expression may nest: a sum of 250 terms is 250 deep; ``-(-(-…))`` much
deeper would exhaust the stack."""


def _round(number: float, ndigits: int | None = None) -> float:
    if ndigits is None:
        return round(number)
    if not isinstance(ndigits, int):
        raise ValueError(f"round() takes ndigits as a whole number, not {ndigits!r}")
    if abs(ndigits) > MAX_DIGITS:
        raise ValueError(f"round() takes ndigits from -{MAX_DIGITS} to {MAX_DIGITS}")
    return round(number, ndigits)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
}
"""Each is fast whatever its arguments, given numbers of at most MAX_BITS (``round``
bounds its ``ndigits`` too); add no function whose cost grows with a value."""
_CONSTANTS = {"pi": math.pi, "e": math.e}


def _checked(value: Any) -> Any:
    if isinstance(value, complex):
        raise ValueError("the result is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ValueError(f"a number larger than {MAX_BITS} bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("the result is not a finite number")
    return value


def _bound(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse ``left op right`` when it would build an integer past MAX_BITS, or raise to
    a power past MAX_EXPONENT (checked before; + - / // % stay within their operands)."""
    if isinstance(op, ast.Pow) and abs(right) > MAX_EXPONENT:
        raise ValueError(f"an exponent beyond ±{MAX_EXPONENT}")
    if not (isinstance(left, int) and isinstance(right, int)):
        return
    if isinstance(op, ast.Pow) and right > 0 and max(left.bit_length(), 1) * right > MAX_BITS:
        raise ValueError(f"a number larger than {MAX_BITS} bits")
    if isinstance(op, ast.Mult) and left.bit_length() + right.bit_length() > MAX_BITS:
        raise ValueError(f"a number larger than {MAX_BITS} bits")


def _evaluate(node: ast.AST, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError(f"an expression nested more than {MAX_DEPTH} deep")
    return _checked(_evaluate_node(node, depth + 1))


def _evaluate_node(node: ast.AST, depth: int) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, depth)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, depth), _evaluate(node.right, depth)
        _bound(node.op, left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, depth))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(a, depth) for a in node.args))
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
    except (SyntaxError, RecursionError):
        raise ValueError(f"{expression!r} is not an arithmetic expression") from None
    result = _evaluate(tree)
    return float(result) if isinstance(result, int | float) else result


calculator = Tool(calculate, name="calculator", timeout=5.0)
"""Arithmetic without ``eval``: the expression is parsed and only numbers, operators and a
few math functions are evaluated, each on bounded numbers (so every call is quick)."""

# ---------------------------------------------------------------- http_get

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class AllowList:
    """Where :func:`http_get` may go: ``(host, port)`` pairs; a host starting with ``.``
    is a domain and its subdomains; port None is the scheme's default port (80 or 443)."""

    entries: tuple[tuple[str, int | None], ...]

    @classmethod
    def parse(cls, allow: Iterable[str]) -> AllowList:
        """``host``, ``host:port``, ``.domain``, ``.domain:port`` (``[::1]:8080`` for
        IPv6); ``ValueError`` for anything else."""
        if isinstance(allow, str):
            allow = [allow]
        entries = []
        for raw in allow:
            entry = raw.strip().lower()
            parts = urlsplit(f"//{entry}")
            try:
                port = parts.port
            except ValueError:
                port = 0
            if (
                not parts.hostname
                or parts.netloc != entry
                or entry.endswith(":")
                or "@" in entry
                or port == 0
                or any(c.isspace() for c in entry)
            ):
                raise ValueError(
                    f"http_get: {raw!r} is not an allowed host; give 'example.org', "
                    "'example.org:8080' or '.example.org' (the domain and its subdomains)"
                )
            entries.append((parts.hostname, port))
        if not entries:
            raise ValueError("http_get needs at least one allowed host")
        return cls(tuple(entries))

    def permits(self, url: str) -> bool:
        """Whether ``url`` is ``http(s)`` on an allowed host and port."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            return False
        return self.matches(parts.scheme, parts.hostname or "", port)

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        default = _DEFAULT_PORTS.get(scheme.lower())
        if default is None or not host:
            return False
        host, port = host.lower(), default if port is None else port
        return any(
            (port == default if p is None else port == p)
            and (host == h or (h.startswith(".") and (host.endswith(h) or host == h[1:])))
            for h, p in self.entries
        )

    def __str__(self) -> str:
        return ", ".join(_entry(host, port) for host, port in self.entries)


def _entry(host: str, port: int | None) -> str:
    name = f"[{host}]" if ":" in host else host  # IPv6
    return name if port is None else f"{name}:{port}"


def http_get(allow: Iterable[str], *, timeout: float = 10.0, max_bytes: int = 200_000) -> Tool:
    """A tool fetching ``http(s)`` URLs on the hosts and ports in ``allow``; the text, cut
    at ``max_bytes``. Redirects are not followed.

    Each entry of ``allow`` is ``host`` (that exact name, on the scheme's default port
    only: 80 for http, 443 for https), ``host:port`` (that port only, http or https),
    ``.example.com`` (the domain and its subdomains, default ports) or ``.example.com:port``.
    ``ValueError`` for a malformed entry; :class:`~plait.core.MissingExtraError` when
    ``httpx`` is not installed (``pip install 'plait[http]'``).
    """
    allowed = AllowList.parse(allow)
    require_extra("httpx", "http", feature="http_get")

    def refuse(url: str) -> ToolError:
        return ToolError(
            f"http_get may fetch only http(s) URLs on {allowed}; not {url!r}", tool="http_get"
        )

    async def fetch(url: str) -> str:
        """Fetch a web page and return its text.

        Args:
            url: The http or https address to fetch.
        """
        import httpx

        if not allowed.permits(url):
            raise refuse(url)
        try:  # what httpx connects to, as httpx reads the URL
            target = httpx.URL(url)
        except httpx.InvalidURL:
            raise refuse(url) from None
        if not allowed.matches(target.scheme, target.host, target.port):
            raise refuse(url)
        body = bytearray()
        async with (
            httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", target) as response,
        ):
            async for chunk in response.aiter_bytes():
                body.extend(chunk[: max_bytes - len(body)])
                if len(body) >= max_bytes:
                    break
            status, encoding = response.status_code, response.encoding or "utf-8"
        return f"HTTP {status}\n{body.decode(encoding, errors='replace')}"

    return Tool(fetch, name="http_get", timeout=timeout + 1)


# ---------------------------------------------------------------- read_file

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
_FILE = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_MAX_LINKS = 40
_ABSENT = {errno.ENOENT, errno.ENOTDIR, errno.ENXIO, errno.ENODEV}


class _Refused(Exception):
    """The path leads outside the root (``outside``) or to no regular file."""

    def __init__(self, outside: bool) -> None:
        self.outside = outside


def _link(name: str, folder: int) -> str | None:
    """The target of the link ``name`` in ``folder``; None when it is no link (now)."""
    try:
        return os.readlink(name, dir_fd=folder)
    except OSError:
        return None


def _open_beneath(root: Path, path: str) -> int:
    """A descriptor of the regular file at ``path`` beneath ``root``, never outside it.

    Each name is opened relative to the descriptor of the folder before it, without
    following links (``O_NOFOLLOW``), so nothing swapped in between a check and an open
    can lead out. Links are followed here, by reading them, as ``RESOLVE_BENEATH`` would:
    an absolute target, or ``..`` above the root, is refused; ``..`` goes back to the
    folder this walk came from, never to whatever the parent is now.
    """
    if "\x00" in path:
        raise _Refused(outside=False)
    if path.startswith("/"):
        raise _Refused(outside=True)
    todo = path.split("/")[::-1]  # names still to walk, the next one last
    folders = [os.open(root, _FOLDER)]
    links = 0
    try:
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if len(folders) == 1:
                    raise _Refused(outside=True)
                os.close(folders.pop())
                continue
            last = not any(n not in ("", ".") for n in todo)
            try:
                fd = os.open(name, _FILE if last else _FOLDER, dir_fd=folders[-1])
            except OSError as exc:
                target = _link(name, folders[-1])
                if target is None and exc.errno != errno.ELOOP:
                    if exc.errno in _ABSENT:
                        raise _Refused(outside=False) from None
                    raise
                links += 1
                if links > _MAX_LINKS:
                    raise _Refused(outside=False) from None
                if target is None:  # a link that is gone again: try the name once more
                    todo.append(name)
                elif target.startswith("/"):
                    raise _Refused(outside=True) from None
                else:
                    todo.extend(target.split("/")[::-1])
                continue
            if last:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    os.close(fd)
                    raise _Refused(outside=False)
                return fd
            folders.append(fd)
        raise _Refused(outside=False)  # the path names a folder
    finally:
        for fd in folders:
            os.close(fd)


def read_file(root: str | Path, *, max_bytes: int = 200_000) -> Tool:
    """A tool reading regular text files inside ``root`` (never outside it: links are
    followed only while they stay inside, and the path is walked one opened folder at a
    time, so a folder swapped for a link while it reads cannot lead out either)."""
    if not _NOFOLLOW or os.open not in os.supports_dir_fd:
        raise ValueError("read_file needs a system with openat and O_NOFOLLOW (Linux, macOS)")
    base = Path(root).resolve()
    if not base.is_dir():
        raise ValueError(f"read_file: {root} is not a directory")

    def read(path: str) -> str:
        """Read a text file.

        Args:
            path: The file's path, relative to the directory the tool may read.
        """
        try:
            fd = _open_beneath(base, path)
        except _Refused as refused:
            if refused.outside:
                raise ToolError(
                    f"read_file may read only inside {base}; not {path!r}", tool="read_file"
                ) from None
            raise ToolError(f"no file {path!r} in {base}", tool="read_file") from None
        with open(fd, "rb") as f:
            return f.read(max_bytes).decode("utf-8", errors="replace")

    return Tool(read, name="read_file", timeout=10.0)
