"""The HTML page of a plan: self-contained, escaped, laid out in layers, fast on big plans."""

from __future__ import annotations

import re
import time
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

import plait
from plait import Flow, and_, listen, on_event, or_, router, start
from plait.define import AllOf, AnyOf, Leaf
from plait.plan import Plan, PlanStep
from plait.plan._html import _build, _Layout, html_page


def _chain(n: int) -> Plan:
    steps = [PlanStep(name="s0", start=True)]
    steps += [PlanStep(name=f"s{i}", trigger=Leaf("step", f"s{i - 1}")) for i in range(1, n)]
    return Plan(name="chain", kind="flow", steps=tuple(steps))


class Review(Flow[dict[str, object]]):
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
        return 1

    @listen(or_(merge, "revise"))
    def draft(self) -> int:
        return 1

    @router(draft, labels=["revise", "publish"])
    def review(self) -> str:
        return "publish"

    @listen("publish")
    def publish_post(self) -> int:
        return 1

    @listen(on_event("progress"))
    def log_progress(self) -> int:
        return 1


def _texts(page: str) -> set[str]:
    return set(re.findall(r"<text[^>]*>([^<]*)</text>", page))


def test_page_shows_every_step_the_plan_name_and_the_mermaid_source() -> None:
    plan = plait.compile(Review)
    page = html_page(plan)
    assert page.startswith("<!doctype html>")
    texts = _texts(page)
    for step in plan.steps:
        assert step.name in texts
    assert "<h1>Review</h1>" in page
    assert {"revise", "publish", "event progress", "&amp;"} <= texts
    details = page[page.index("<details>") : page.index("</details>")]
    assert "flowchart TD" in details
    assert "s_review{&quot;review&quot;}" in details


def test_page_draws_routers_as_diamonds_joins_as_circles_and_loops_dashed() -> None:
    page = html_page(plait.compile(Review))
    assert page.count('<g class="node router">') == 1
    assert page.count('<g class="node join">') == 1
    assert page.count('<g class="node event">') == 1
    assert page.count('<g class="node step">') == 7
    assert re.search(r'<g class="node router"><title>[^<]*</title><polygon ', page)
    assert re.search(r'<g class="node join"><title>[^<]*</title><circle ', page)
    # review -> draft (label "revise") closes the loop: one dashed back edge
    assert page.count('<path class="edge back" d=') == 1
    assert "1 router · 1 and_ join · 1 loop edge" in page
    assert "stroke-dasharray" in page


def test_names_are_escaped() -> None:
    plan = Plan(
        name="<i>plan</i>",
        kind="flow",
        steps=(
            PlanStep(name="<b>", start=True),
            PlanStep(name='r"&', kind="router", trigger=Leaf("step", "<b>"), labels=("<script>",)),
            PlanStep(name="x", trigger=Leaf("label", "<script>")),
        ),
    )
    page = html_page(plan)
    assert "<b>" not in page
    assert "<i>" not in page
    assert "<script" not in page
    assert "&lt;b&gt;" in _texts(page)
    assert "&lt;script&gt;" in _texts(page)
    assert "r&quot;&amp;" in _texts(page)
    assert "<title>&lt;i&gt;plan&lt;/i&gt; · plait plan</title>" in page


def test_page_loads_nothing_from_the_network() -> None:
    page = html_page(plait.compile(Review))
    lowered = page.lower()
    assert "http://" not in lowered
    assert "https://" not in lowered
    assert "<script" not in lowered
    assert "<link" not in lowered
    assert "@import" not in lowered
    assert "src=" not in lowered


def test_layers_follow_triggers_and_loops_are_back_edges() -> None:
    graph = _build(plait.compile(Review))
    layout = _Layout(graph)
    index = {label: v for v, label in enumerate(graph.label) if graph.kind[v] != "dummy"}
    for src, dst, _ in layout.forward:
        assert layout.layer[dst] > layout.layer[src]
    assert [(graph.label[s], graph.label[d]) for s, d, _ in layout.back] == [("review", "draft")]
    layer = {name: layout.layer[v] for name, v in index.items()}
    assert layer["start"] == 0
    assert layer["plan"] == 1
    assert layer["search"] == layer["ask"] == 2
    assert layer["merge"] == 4  # below the and_ join
    assert layer["publish_post"] == layer["review"] + 1


def test_a_self_loop_is_drawn() -> None:
    plan = Plan(
        name="poll",
        kind="flow",
        steps=(
            PlanStep(name="begin", start=True),
            PlanStep(
                name="check",
                kind="router",
                trigger=AnyOf((Leaf("step", "begin"), Leaf("label", "again"))),
                labels=("again", "ready"),
            ),
            PlanStep(name="done", trigger=Leaf("label", "ready")),
        ),
    )
    page = html_page(plan)
    assert page.count('<path class="edge back" d=') == 1
    assert {"again", "ready", "check"} <= _texts(page)


def test_barycenter_ordering_removes_avoidable_crossings() -> None:
    # a and b start; b feeds x, a feeds y; x and y are declared so that the first order
    # crosses (x under a's column): ordering must put x under b and y under a.
    steps = (
        PlanStep(name="a", start=True),
        PlanStep(name="b", start=True),
        PlanStep(name="x", trigger=Leaf("step", "b")),
        PlanStep(name="y", trigger=Leaf("step", "a")),
        PlanStep(name="z", trigger=AllOf((Leaf("step", "x"), Leaf("step", "y")))),
    )
    graph = _build(Plan(name="cross", kind="flow", steps=steps))
    layout = _Layout(graph)
    x = {graph.label[v]: layout.x[v] for v in range(len(graph.kind)) if graph.kind[v] != "dummy"}
    assert (x["a"] < x["b"]) == (x["y"] < x["x"])


def test_a_thousand_step_chain_renders_whole() -> None:
    plan = _chain(1000)
    page = html_page(plan)
    texts = _texts(page)
    assert all(f"s{i}" in texts for i in range(1000))
    assert "1000 steps" in page
    found = re.search(r'height="(\d+)" viewBox="[^"]*" role="img"', page)
    assert found is not None
    assert int(found.group(1)) > 1000 * 36


def test_wide_fan_out_with_a_big_join_renders_quickly() -> None:
    n = 2000
    steps = [PlanStep(name="root", start=True)]
    steps += [PlanStep(name=f"w{i}", trigger=Leaf("step", "root")) for i in range(n)]
    steps.append(
        PlanStep(name="join", trigger=AllOf(tuple(Leaf("step", f"w{i}") for i in range(n))))
    )
    began = time.perf_counter()
    page = html_page(Plan(name="fan", kind="flow", steps=tuple(steps)))
    assert time.perf_counter() - began < 5
    assert page.count('<g class="node step">') == n + 2


def test_workflow_plans_render() -> None:
    wf = plait.Workflow("etl")

    @wf.task()
    def extract() -> list[int]:
        return [1, 2]

    @wf.task(depends_on=[extract])
    def total(extract: list[int]) -> int:
        return sum(extract)

    @wf.task(depends_on=[extract, total])
    def report(extract: list[int], total: int) -> str:
        return f"{total}"

    page = wf.plot("html")
    assert {"extract", "total", "report"} <= _texts(page)
    assert "workflow · 3 steps" in page
    # total depends on one task: no join; report on two: one join
    assert page.count('<g class="node join">') == 1


@st.composite
def _plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(1, 25))
    steps = [PlanStep(name="n0", start=True)]
    for i in range(1, n):
        sources = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True))
        leaves = tuple(Leaf("step", f"n{j}") for j in sources)
        trigger: Leaf | AnyOf | AllOf = leaves[0]
        if len(leaves) > 1:
            trigger = AnyOf(leaves) if draw(st.booleans()) else AllOf(leaves)
        steps.append(PlanStep(name=f"n{i}", trigger=trigger, start=draw(st.booleans())))
    return Plan(name="random", kind="flow", steps=tuple(steps))


@settings(max_examples=60, deadline=None)
@given(_plans())
def test_layout_invariants_on_random_graphs_with_cycles(plan: Plan) -> None:
    graph = _build(plan)
    layout = _Layout(graph)
    for src, dst, _ in layout.forward:
        assert layout.layer[dst] > layout.layer[src]
    for row in layout.layers:  # a layer keeps its order, and its nodes do not overlap
        for a, b in pairwise(row):
            assert layout.x[b] - graph.w[b] / 2 >= layout.x[a] + graph.w[a] / 2 + 27.9
    assert {s.name for s in plan.steps} <= _texts(html_page(plan))
