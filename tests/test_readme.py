"""The README's Python code runs, and prints what its comments promise."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_code_runs(tmp_path: Path) -> None:
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README has no python examples"
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    promised = re.findall(r"print\(.*\)\s+# (.+)", "\n".join(blocks))
    assert promised
    for line in promised:
        assert line.strip() in done.stdout


def test_main_job_command_runs() -> None:
    """``scripts/demo`` (the README's main job) runs the content-creation flow on the local
    model: four agent steps, durable, with the article, timeline and token usage."""
    root = README.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAIT_", "OPENAI_"))}
    done = subprocess.run(
        ["bash", str(root / "scripts" / "demo"), "--input", "topic=testing", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=root,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["status"] == "completed" and doc["store"] == "sqlite:///.plait/runs.db"
    assert [s["step"] for s in doc["steps"]] == ["research", "strategy", "write", "edit"]
    assert isinstance(doc["output"], str) and doc["output"].strip()
    usage = doc["usage"]["total"]
    assert usage["model_calls"] >= 4 and usage["output_tokens"] > 0 and usage["cost"] == 0.0
