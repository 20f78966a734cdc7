"""What a plain ``pip install plait`` (no extras) must be enough for.

The development environment holds every extra and every tool (mkdocs brings click,
litellm brings httpx, ...), so an import that only the development environment
satisfies passes every other test. Here the CLI's common commands run in a process
where every installed distribution that plait's core dependencies do not pull in cannot
be imported: exactly what a user without extras has.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from importlib.metadata import PackageNotFoundError, distribution, packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _name(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _core_closure() -> set[str]:
    """plait and every distribution its core dependencies pull in (no extras)."""
    seen: set[str] = set()
    todo = ["plait"]
    while todo:
        name = _name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def _blocked() -> list[str]:
    core = _core_closure()
    blocked = {
        module
        for module, dists in packages_distributions().items()
        if module.isidentifier()
        and module not in sys.stdlib_module_names
        and not any(_name(d) in core for d in dists)
    }
    blocked -= {"_pytest", "pytest", "py", "pluggy"}  # the test runner itself, not plait
    return sorted(blocked)


RUNNER = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[1].split(","))

    class NoExtras:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (not in a plain install)")
            return None

    sys.meta_path.insert(0, NoExtras())
    sys.argv = ["plait", *sys.argv[2:]]
    from plait.cli import main

    main()
    """
)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["validate", "examples/demo.py:DemoFlow"],
        ["run", "examples/demo.py:DemoFlow", "--store", "sqlite:///{tmp}/runs.db"],
        ["run", "examples/task_graph.py", "-i", "currency=EUR", "--store", "sqlite:///{tmp}/r.db"],
        ["runs", "list", "--store", "sqlite:///{tmp}/runs.db"],
        ["plot", "examples/demo.py:DemoFlow", "-f", "html", "-o", "{tmp}/plan.html"],
    ],
)
def test_the_cli_runs_on_a_plain_install(args: list[str], tmp_path: Path) -> None:
    blocked = _blocked()
    assert "click" in blocked or "click" not in packages_distributions()  # the check bites
    if args[0] == "runs":  # a store with a run in it
        seed = [sys.executable, "-m", "plait.cli", "run", "examples/demo.py:DemoFlow"]
        store = ["--store", f"sqlite:///{tmp_path}/runs.db"]
        subprocess.run([*seed, *store], cwd=ROOT, check=True, capture_output=True, timeout=120)
    argv = [a.format(tmp=tmp_path) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, ",".join(blocked), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "not in a plain install" not in done.stderr
