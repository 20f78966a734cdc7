"""The README's Python code runs, and prints what its comments promise."""

from __future__ import annotations

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
    """``scripts/demo`` (the README's main job) runs the demo flow and prints its timeline."""
    root = README.parent
    done = subprocess.run(
        ["bash", str(root / "scripts" / "demo"), "--input", "topic=testing"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    assert "Timeline" in done.stdout
    assert "# Testing: a field report" in done.stdout
    assert "✓ completed" in done.stdout
