"""Every script in examples/ runs, exits 0 and prints what it is about."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from plait.runtime import ItemCompleted, RouteTaken, StepCompleted, StepStarted

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

EXPECTED = {
    "demo.py": "Score 0.85 after 2 revisions",
    "article_flow.py": "phases: research -> writing -> review -> completed",
    "task_graph.py": "ada      37.50 EUR",
    "pipeline.py": "rejected at stage 'transform'",
    "scatter_gather.py": "4 hits from 3 searches",
    "map_reduce.py": "4 documents mapped, 26 words counted",
    "event_driven.py": "paged on-call for: checkout page is down; payments failing",
}


CHECKED_ELSEWHERE = {
    "content.py": "tests/test_readme.py::test_main_job_command_runs (the main job, on the "
    "local model) and tests/agents/test_content_flow.py (scripted model)",
}


def test_every_example_is_checked() -> None:
    found = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert found == sorted([*EXPECTED, *CHECKED_ELSEWHERE])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=EXAMPLES.parent,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert EXPECTED[name] in done.stdout
    assert done.stderr == ""


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_demo_runs_branches_in_parallel_joins_loops_and_maps() -> None:
    demo = load("demo")
    flow = demo.DemoFlow()
    article = flow.kickoff(inputs={"topic": "agent memory"})
    assert article.startswith("# Agent memory: a field report")
    events = flow.events
    order = [
        (type(e).__name__, e.step) for e in events if isinstance(e, StepStarted | StepCompleted)
    ]
    branches = ("search_web", "search_papers", "ask_experts")
    first_done = min(order.index(("StepCompleted", b)) for b in branches)
    assert all(order.index(("StepStarted", b)) < first_done for b in branches)
    last_branch = max(order.index(("StepCompleted", b)) for b in branches)
    assert order.index(("StepStarted", "make_outline")) > last_branch  # the and_ join
    labels = [e.label for e in events if isinstance(e, RouteTaken)]
    assert labels == ["revise", "revise", "publish"]
    assert flow.state.revisions == 2 and flow.state.score >= demo.QUALITY_BAR
    items = [e for e in events if isinstance(e, ItemCompleted)]
    assert len(items) == len(flow.state.outline) == len(flow.state.sections) == 4
    assert [e.step for e in events if isinstance(e, StepCompleted)][-1] == "publish_article"


def test_demo_timeline_lists_every_step_run() -> None:
    demo = load("demo")
    flow = demo.DemoFlow()
    flow.kickoff()
    rows = demo.timeline(flow.events)
    names = [name for name, _, _ in rows]
    assert names.count("quality_check") == 1 and "quality_check #3" in names
    assert all(start >= 0 and took >= 0 for _, start, took in rows)
    assert names[-1] == "publish_article"
