"""The python code of the documentation (docs/**/*.md) runs, and prints what its comments
promise; the site's navigation lists every page.

Each page's python blocks run in order as one script, in an empty folder, without the
caller's ``PLAIT_*`` or provider variables. A line ``print(...)  # text`` promises that
``text`` appears in the output. A python block that is only a fragment opts out with the
line ``<!-- no-run: why -->`` just above it; it must still parse. Every fenced block names
its language, so no python hides in an unnamed one (shell commands go in ``bash`` blocks,
which are not run). tests/test_readme.py checks README.md the same way; ``scripts/docs``
(a stage of ``scripts/test``) builds the site with warnings as errors.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
NO_RUN = re.compile(r"<!--\s*no-run:\s*\S.*-->")
FENCE = re.compile(
    r"^(?P<indent>[ ]*)(?P<fence>`{3,})(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ ]*$",
    re.M | re.S,
)
PROMISE = re.compile(r"print\(.*\)\s+# (.+)")


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int
    runs: bool


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a markdown text, with whether each python block runs."""
    found = []
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        before = [line for line in text[: match.start()].splitlines() if line.strip()]
        marked = bool(before) and NO_RUN.fullmatch(before[-1].strip()) is not None
        language = match["info"].strip().split(" ")[0].lstrip(".").lower()
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(language, code, line, language in ("python", "py") and not marked))
    return found


def run_python(blocks_: list[Block], where: Path, cwd: Path) -> str:
    """Run the blocks as one script in ``cwd``; check it exits 0 and keeps its promises."""
    code = "\n".join(b.code for b in blocks_)
    script = cwd / "page.py"
    script.write_text(code)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PLAIT_", "OPENAI_", "ANTHROPIC_"))
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, f"{where}: its python blocks failed:\n{done.stderr}"
    for promise in PROMISE.findall(code):
        assert promise.strip() in done.stdout, (
            f"{where}: a comment promises {promise.strip()!r}, the output is:\n{done.stdout}"
        )
    return done.stdout


def page_id(page: Path) -> str:
    return str(page.relative_to(DOCS))


RUNNABLE = [p for p in PAGES if any(b.runs for b in blocks(p.read_text()))]


@pytest.mark.parametrize("page", RUNNABLE, ids=page_id)
def test_page_code_runs(page: Path, tmp_path: Path) -> None:
    run_python([b for b in blocks(page.read_text()) if b.runs], page.relative_to(ROOT), tmp_path)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_names_its_language_and_fragments_parse(page: Path) -> None:
    for block in blocks(page.read_text()):
        where = f"{page.relative_to(ROOT)}:{block.line}"
        assert block.language, f"{where}: name the block's language (```python, ```bash, ...)"
        if block.language in ("python", "py") and not block.runs:
            ast.parse(block.code, filename=where)  # a fragment, but python all the same


def test_the_docs_have_runnable_code() -> None:
    assert len(RUNNABLE) >= 10, [page_id(p) for p in RUNNABLE]


def test_the_marker_is_seen() -> None:
    text = "a\n\n<!-- no-run: a fragment -->\n```python\nx(...)\n```\n\n```python\nprint(1)\n```\n"
    assert [b.runs for b in blocks(text)] == [False, True]
    indented = "1. step\n\n    ```bash\n    plait run x.py\n    ```\n"
    assert blocks(indented) == [Block("bash", "plait run x.py\n", 3, False)]


def test_every_page_is_in_the_navigation() -> None:
    listed = set(re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))
    assert listed == {page_id(p) for p in PAGES}
