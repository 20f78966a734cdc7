"""The HTML plot in a real browser: every example's page (and flows with loops, joins and
events) draws every node, every edge and every router label, fetches nothing, and no
edge runs through a node box other than its own two ends.

Needs Debian's chromium at /usr/bin/chromium (``apt-get install chromium``) and the
``playwright`` package, which drives it; no browser is ever downloaded.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

import plait
from plait import Flow, and_, emit, listen, on_event, or_, router, start
from plait.define import AllOf, Leaf
from plait.plan import Plan, PlanStep
from plait.plan._diagram import Diagram, diagram
from plait.plan._html import ELK_MAX_EDGES, html_page

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":  # scripts/test installs it; CI must run these tests
        raise RuntimeError(f"CI: chromium is missing at {CHROMIUM} (apt-get install chromium)")
    pytest.skip(
        f"needs chromium at {CHROMIUM} (Debian: apt-get install chromium)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="needs the playwright package (pip install playwright) to drive chromium",
    exc_type=ImportError,
)


class Review(Flow[dict[str, Any]]):
    """A router loop back through an or_ join, an and_ join, and an event."""

    @start()
    def plan(self) -> int:
        return 1

    @listen(plan)
    def search(self) -> int:
        return 1

    @listen(plan)
    def ask(self) -> int:
        return 1

    @listen(and_(search, ask))
    def merge(self) -> int:
        self.emit("progress", "merged")
        return 1

    @listen(or_(merge, "revise"))
    def draft(self) -> int:
        return 1

    @router(draft)
    def review(self) -> Literal["revise", "publish"]:
        return "publish"

    @listen("publish")
    def publish_post(self) -> int:
        return 1

    @listen(on_event("progress"))
    def log_progress(self) -> int:
        return 1


class Loops(Flow[dict[str, Any]]):
    """Two nested loops, a self-loop, long back edges past a wide layer, and an event that
    a later step emits back to an earlier one."""

    @start()
    def fetch(self) -> int:
        return 1

    @listen(or_(fetch, "refetch"))
    def parse(self) -> int:
        return 1

    @listen(parse)
    def enrich_with_a_rather_long_name(self) -> int:
        return 1

    @listen(parse)
    def classify(self) -> int:
        return 1

    @listen(parse)
    def score(self) -> int:
        return 1

    @router(or_(and_(enrich_with_a_rather_long_name, classify, score), "retry"))
    def check(self) -> Literal["retry", "refetch", "ok"]:
        return "ok"

    @router(or_("ok", "again"))
    def poll(self) -> Literal["again", "ready"]:
        return "ready"

    @listen("ready")
    def report(self) -> int:
        emit("restart", 1)
        return 1

    @listen(on_event("restart"))
    def restart(self) -> int:
        return 1


def _load_example(path: Path) -> Any:
    name = f"plait_example_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # drawing reads emits from loaded modules only
    spec.loader.exec_module(module)
    return module


def _example_plans() -> list[Any]:
    out = []
    for path in sorted(EXAMPLES.glob("*.py")):
        module = _load_example(path)
        for attr, value in vars(module).items():
            if attr.startswith("_") or inspect.ismodule(value) or inspect.isfunction(value):
                continue
            if isinstance(value, type) and value.__module__ != module.__name__:
                continue  # imported, not defined here
            if isinstance(value, plait.Workflow) or (
                isinstance(value, type) and issubclass(value, Flow)
            ):
                out.append(pytest.param(plait.compile(value), id=f"{path.stem}.{attr}"))
    return out


EXAMPLE_PLANS = _example_plans()


def test_every_example_has_a_plan() -> None:
    stems = {p.id.split(".")[0] for p in EXAMPLE_PLANS}
    assert stems == {path.stem for path in EXAMPLES.glob("*.py")}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


# Geometry in page (CSS pixel) coordinates: boxes of nodes and edge labels, and each
# edge path sampled every 2 px along its length.
_GEOMETRY = """(step) => {
  const svg = document.querySelector('#plait-canvas svg');
  const box = (el) => {
    const b = el.getBBox(), m = el.getScreenCTM();
    const pts = [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height],
                 [b.x + b.width, b.y + b.height]].map(([x, y]) => new DOMPoint(x, y).matrixTransform(m));
    const xs = pts.map(p => p.x), ys = pts.map(p => p.y);
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  };
  const nodes = [...svg.querySelectorAll('g.node')].map(g => ({
    id: g.id, text: g.querySelector('g.label').textContent.trim(), box: box(g)}));
  const edges = [...svg.querySelectorAll('path[data-edge]')].map(p => {
    const m = p.getScreenCTM(), length = p.getTotalLength(), points = [];
    for (let at = 0; step && at <= length; at += step) {
      const q = p.getPointAtLength(at).matrixTransform(m);
      points.push([q.x, q.y]);
    }
    return {id: p.dataset.id, cls: p.getAttribute('class'), style: p.getAttribute('style') || '',
            points};
  });
  const labels = [...svg.querySelectorAll('g.edgeLabel')]
    .filter(g => g.textContent.trim())
    .map(g => ({text: g.textContent.trim(), box: box(g)}));
  return {nodes, edges, labels};
}"""


def _draw(browser: Any, plan: Plan, tmp_path: Path, step: float = 2) -> dict[str, Any]:
    page_file = tmp_path / "plan.html"
    page_file.write_text(html_page(plan), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    fetched: list[str] = []
    problems: list[str] = []
    page.route("**/*", lambda route: (fetched.append(route.request.url), route.continue_()))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(page_file.as_uri(), wait_until="domcontentloaded")
        page.wait_for_selector("body[data-drawn]", state="attached", timeout=60_000)
        assert page.evaluate("document.body.dataset.drawn") == "yes", page.inner_text("body")
        geometry: dict[str, Any] = page.evaluate(_GEOMETRY, step)
    finally:
        page.close()
    assert fetched == [page_file.as_uri()], "the page fetched something"
    assert problems == []
    return geometry


def _inside(point: list[float], box: list[float], margin: float = 1.0) -> bool:
    x, y = point
    return box[0] + margin < x < box[2] - margin and box[1] + margin < y < box[3] - margin


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _edge_ends(d: Diagram) -> dict[str, tuple[str, str]]:
    """Mermaid's edge id (``L_<from>_<to>_<n>``) -> (from, to)."""
    out: dict[str, tuple[str, str]] = {}
    for e in d.edges:
        n = 0
        while f"L_{e.source}_{e.target}_{n}" in out:
            n += 1
        out[f"L_{e.source}_{e.target}_{n}"] = (e.source, e.target)
    return out


def check_drawing(plan: Plan, geometry: dict[str, Any], routes: bool = True) -> None:
    """Every node, edge and label is drawn; with ``routes``, no edge crosses another
    node's box and no label covers a node."""
    d = diagram(plan)
    nodes = {
        n["id"].removeprefix("plait-plan-flowchart-").rsplit("-", 1)[0]: n
        for n in geometry["nodes"]
    }
    assert set(nodes) == {n.id for n in d.nodes}, "every node is drawn, once"
    for node in d.nodes:
        box = nodes[node.id]["box"]
        assert box[2] - box[0] > 10 and box[3] - box[1] > 10, f"{node.id} is drawn too small"
        # a long label wraps into lines, which textContent joins without a space
        shown = nodes[node.id]["text"]
        assert "".join(shown.split()) == "".join(node.label.split()), f"{node.id}: {shown!r}"
    ends = _edge_ends(d)
    assert sorted(e["id"] for e in geometry["edges"]) == sorted(ends), "every edge is drawn"
    by_ends = {(e.source, e.target): e for e in d.edges}
    for edge in geometry["edges"] if routes else ():
        source, target = ends[edge["id"]]
        assert len(edge["points"]) > 2
        for other, drawn in nodes.items():
            if other in (source, target):
                continue
            crossing = [p for p in edge["points"] if _inside(p, drawn["box"])]
            assert not crossing, f"edge {source} -> {target} crosses node {other} at {crossing[0]}"
        model = by_ends[(source, target)]
        if model.loop:
            assert "stroke-dasharray" in edge["style"], f"loop {source} -> {target} is not dashed"
        if model.emit:
            assert "edge-pattern-dotted" in edge["cls"]
    wanted = sorted(e.label for e in d.edges if e.label)
    assert sorted(lab["text"] for lab in geometry["labels"]) == wanted, "every edge label shows"
    for lab in geometry["labels"] if routes else ():
        assert lab["box"][2] - lab["box"][0] > 5
        for other, drawn in nodes.items():
            assert not _overlap(lab["box"], drawn["box"]), f"label {lab['text']} covers {other}"


@pytest.mark.parametrize("plan", EXAMPLE_PLANS)
def test_example_plots_draw_cleanly(browser: Any, plan: Plan, tmp_path: Path) -> None:
    check_drawing(plan, _draw(browser, plan, tmp_path))


@pytest.mark.parametrize("flow", [Review, Loops], ids=["review", "loops"])
def test_loops_joins_and_events_draw_cleanly(
    browser: Any, flow: type[Flow[Any]], tmp_path: Path
) -> None:
    plan = plait.compile(flow)
    d = diagram(plan)
    assert any(e.loop for e in d.edges) and any(e.emit for e in d.edges)
    assert {"and", "or", "router", "event"} <= {n.kind for n in d.nodes}
    check_drawing(plan, _draw(browser, plan, tmp_path))


def test_odd_names_are_drawn_as_written(browser: Any, tmp_path: Path) -> None:
    plan = Plan(
        name="<i>odd</i>",
        kind="flow",
        steps=(
            PlanStep(name="<b>", start=True),
            PlanStep(name='r"&', kind="router", trigger=Leaf("step", "<b>"), labels=("</script>",)),
            PlanStep(name='say "hi"; #1 | `x` &amp;', trigger=Leaf("label", "</script>")),
            PlanStep(name="a-b", trigger=Leaf("step", "<b>")),
            PlanStep(name="a_b", trigger=Leaf("step", "a-b")),
        ),
    )
    check_drawing(plan, _draw(browser, plan, tmp_path))


def test_event_driven_example_shows_who_emits_each_event(browser: Any, tmp_path: Path) -> None:
    module = _load_example(EXAMPLES / "event_driven.py")
    plan = plait.compile(module.SupportDesk)
    geometry = _draw(browser, plan, tmp_path)
    ends = _edge_ends(diagram(plan))
    drawn = {ends[e["id"]] for e in geometry["edges"] if "edge-pattern-dotted" in e["cls"]}
    assert drawn == {("s_scan_inbox", "e_ticket"), ("s_triage", "e_urgent")}


def test_the_check_catches_an_edge_through_a_box_and_a_missing_label(
    browser: Any, tmp_path: Path
) -> None:
    plan = plait.compile(Review)
    geometry = _draw(browser, plan, tmp_path)
    check_drawing(plan, geometry)
    ends = _edge_ends(diagram(plan))
    edge = next(e for e in geometry["edges"] if ends[e["id"]] == ("s_plan", "s_ask"))
    x, y = edge["points"][len(edge["points"]) // 2]
    moved = copy.deepcopy(geometry)
    for node in moved["nodes"]:
        if node["id"].startswith("plait-plan-flowchart-s_publish_post-"):
            node["box"] = [x - 20, y - 10, x + 20, y + 10]  # publish_post over plan -> ask
    with pytest.raises(AssertionError, match="edge s_plan -> s_ask crosses node s_publish_post"):
        check_drawing(plan, moved)
    unlabelled = copy.deepcopy(geometry)
    unlabelled["labels"] = [lab for lab in unlabelled["labels"] if lab["text"] != "revise"]
    with pytest.raises(AssertionError, match="every edge label shows"):
        check_drawing(plan, unlabelled)


@pytest.mark.slow
def test_a_plan_too_big_for_elk_is_drawn_by_dagre(browser: Any, tmp_path: Path) -> None:
    n = ELK_MAX_EDGES // 2 + 1  # 2n edges: root -> each worker -> the join
    steps = [PlanStep(name="root", start=True)]
    steps += [PlanStep(name=f"w{i}", trigger=Leaf("step", "root")) for i in range(n)]
    steps.append(
        PlanStep(name="join", trigger=AllOf(tuple(Leaf("step", f"w{i}") for i in range(n))))
    )
    plan = Plan(name="fan", kind="flow", steps=tuple(steps))
    assert '"layout": "dagre"' in html_page(plan)
    check_drawing(plan, _draw(browser, plan, tmp_path, step=0), routes=False)
