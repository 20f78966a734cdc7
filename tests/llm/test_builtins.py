"""The built-in tools against their attacks: ``read_file`` under a folder/link swap race,
``http_get``'s allow-list with ports (against real servers on 127.0.0.1), and calculator
expressions that would hold the interpreter for minutes."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from plait.core import MissingExtraError, ToolError
from plait.llm import http_get, read_file
from plait.llm._builtins import AllowList

# ---------------------------------------------------------------- read_file


def test_read_file_never_follows_a_folder_swapped_for_a_link(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "real").mkdir(parents=True)
    (root / "real" / "notes.txt").write_text("inside")
    outside.mkdir()
    (outside / "notes.txt").write_text("SECRET")
    (root / "link").symlink_to(outside, target_is_directory=True)
    read = read_file(root).fn
    stop = threading.Event()

    def swap() -> None:  # root/dir is by turns the real folder and the link outside
        while not stop.is_set():
            os.rename(root / "real", root / "dir")
            os.rename(root / "dir", root / "real")
            os.rename(root / "link", root / "dir")
            os.rename(root / "dir", root / "link")

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    seen: set[str] = set()
    try:
        for _ in range(4000):
            try:
                seen.add(read(path="dir/notes.txt"))
            except ToolError:
                seen.add("refused")
    finally:
        stop.set()
        swapper.join()
    assert "SECRET" not in seen
    assert seen <= {"inside", "refused"}


def test_read_file_refuses_links_and_paths_that_leave_its_directory(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("A")
    (tmp_path / "secret.txt").write_text("SECRET")
    (root / "up").symlink_to("../secret.txt")
    (root / "abs").symlink_to(tmp_path / "secret.txt")
    (root / "docs" / "out").symlink_to("../..", target_is_directory=True)
    (root / "same").symlink_to("docs/a.txt")  # inside the root: followed, beneath it
    (root / "here").symlink_to("docs", target_is_directory=True)
    reader = read_file(root)

    def read(path: str) -> str:
        return str(asyncio.run(reader.call({"path": path})))

    assert read("docs/../docs/a.txt") == read("same") == read("here/a.txt") == "A"
    for path in [
        "../secret.txt",
        "docs/../../secret.txt",
        str(tmp_path / "secret.txt"),
        "up",
        "abs",
        "docs/out/secret.txt",
        "here/../../secret.txt",
    ]:
        with pytest.raises(ToolError, match="only inside"):
            read(path)


def test_read_file_reads_only_regular_files(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "a.txt").write_text("x" * 50)
    os.mkfifo(tmp_path / "pipe")  # opening it for reading would wait for a writer
    reader = read_file(tmp_path, max_bytes=10)
    assert asyncio.run(reader.call({"path": "a.txt"})) == "x" * 10
    for path in ["docs", "pipe", ".", "", "a.txt/b", "missing/a.txt", "nul\x00.txt"]:
        with pytest.raises(ToolError, match=r"no file .* in"):
            asyncio.run(reader.call({"path": path}))


# ---------------------------------------------------------------- http_get


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = cast(http.server.HTTPServer, self.server)
        body = f"hello from port {server.server_port}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def two_ports(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, int]]:
    """Two real HTTP servers on 127.0.0.1, on two ports."""
    monkeypatch.setenv("NO_PROXY", "*")  # loopback, never through a proxy of the machine
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield servers[0].server_address[1], servers[1].server_address[1]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_http_get_allows_only_the_listed_port(two_ports: tuple[int, int]) -> None:
    allowed, other = two_ports
    getter = http_get([f"127.0.0.1:{allowed}"])
    text = asyncio.run(getter.call({"url": f"http://127.0.0.1:{allowed}/x"}))
    assert text == f"HTTP 200\nhello from port {allowed}"
    with pytest.raises(ToolError, match="may fetch only"):
        asyncio.run(getter.call({"url": f"http://127.0.0.1:{other}/x"}))


def test_http_get_host_without_port_allows_the_default_port_only(
    two_ports: tuple[int, int],
) -> None:
    getter = http_get(["127.0.0.1", "LocalHost"])
    for port in two_ports:
        for host in ["127.0.0.1", "localhost"]:
            with pytest.raises(ToolError, match="may fetch only"):
                asyncio.run(getter.call({"url": f"http://{host}:{port}/"}))


@pytest.mark.parametrize(
    ("allow", "url", "ok"),
    [
        ("example.org", "http://example.org/", True),
        ("example.org", "https://example.org/", True),
        ("example.org", "http://example.org:80/", True),
        ("example.org", "https://example.org:443/", True),
        ("example.org", "http://example.org:443/", False),
        ("example.org", "https://example.org:80/", False),
        ("example.org", "http://example.org:8080/", False),
        ("example.org:8080", "http://example.org:8080/", True),
        ("example.org:8080", "https://example.org:8080/", True),
        ("example.org:8080", "http://example.org/", False),
        (".example.org", "https://api.example.org/", True),
        (".example.org", "https://api.example.org:8443/", False),
        (".example.org:8443", "https://api.example.org:8443/", True),
        (".example.org:8443", "https://example.org:8443/", True),
        (".example.org:8443", "https://badexample.org:8443/", False),
        ("[::1]:8080", "http://[::1]:8080/", True),
        ("[::1]:8080", "http://[::1]/", False),
        ("example.org", "http://example.org:99999/", False),
        ("example.org", "http://example.org:x/", False),
        ("example.org", "http://evil.test@example.org:8080/", False),
    ],
)
def test_http_get_allow_list_matches_host_and_port(allow: str, url: str, ok: bool) -> None:
    assert AllowList.parse([allow]).permits(url) is ok


@pytest.mark.parametrize("entry", ["", "http://example.org", "example.org/path", "host:0", "a:b"])
def test_http_get_refuses_malformed_allow_entries(entry: str) -> None:
    with pytest.raises(ValueError, match="http_get"):
        http_get([entry])


def test_http_get_without_httpx_says_which_extra_when_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)  # `import httpx` raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'plait\[http\]'"):
        http_get(["example.org"])


# ---------------------------------------------------------------- calculator

SLOW = [
    "round(1, -10**7)",
    "round(1, -10**9)",
    "round(7, -9**9)",
    "round(10**1000, -2000)",
    "round(1.5, 10**7)",
    "round(1, 2.5)",
    "9**9**9",
    "(10**1000)**1000",
    "2**4096 * 2**4096",
    "1" * 499,  # a 499-digit literal: under the limit, then used as an exponent
    "2 ** " + "9" * 495,
    "-" * 498 + "1",
]
"""Expressions that held the interpreter for seconds to minutes, or could, or that exhaust
the stack: each must fail at once, with a ValueError saying why."""


def test_calculator_bounds_every_operation() -> None:
    # In a subprocess with a generous timeout: a regression fails, it does not hang the run.
    script = (
        "import json, sys\n"
        "from plait.llm import calculator\n"
        "import asyncio\n"
        "out = []\n"
        "for expression in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        out.append(repr(asyncio.run(calculator.call({'expression': expression}))))\n"
        "    except Exception as exc:\n"
        "        out.append(f'{type(exc).__name__}: {exc}')\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(SLOW)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = dict(zip(SLOW, json.loads(done.stdout), strict=True))
    assert results.pop("1" * 499).startswith("ToolError: tool 'calculator' failed")
    for expression, result in results.items():
        assert result.startswith("ToolError: tool 'calculator' failed: ValueError: "), (
            expression,
            result,
        )
    assert "round() takes ndigits from -1233 to 1233" in results["round(1, -10**7)"]
    assert "round() takes ndigits from -1233 to 1233" in results["round(1.5, 10**7)"]
    assert "whole number" in results["round(1, 2.5)"]
    assert "nested more than 300 deep" in results["-" * 498 + "1"]


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("round(1234.5678, 2)", 1234.57),
        ("round(1234, -2)", 1200.0),
        ("round(2.5)", 2.0),
        ("round(-1.5)", -2.0),
        ("round(10**300, -300)", 1e300),
        ("+".join(["1"] * 250), 250.0),
    ],
)
def test_calculator_still_rounds(expression: str, value: float) -> None:
    from plait.llm import calculator

    assert asyncio.run(calculator.call({"expression": expression})) == value
