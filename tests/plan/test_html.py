"""The HTML page of a plan: self-contained, escaped, carries the Mermaid text and the
vendored Mermaid bundle, fast on big plans. How it draws is checked in a real browser
(``test_html_browser.py``)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from importlib.resources import files

import plait
from plait import Flow, and_, listen, on_event, or_, router, start
from plait.define import AllOf, Leaf
from plait.plan import Plan, PlanStep
from plait.plan._html import html_page, mermaid_js

MERMAID_SHA256 = "336df803d87a38b70a01e736e666c8f7601d2ce42f5e47c8fafe5d721074b9a3"
VENDOR = files("plait.plan") / "_vendor" / "mermaid"


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


def _chain(n: int) -> Plan:
    steps = [PlanStep(name="s0", start=True)]
    steps += [PlanStep(name=f"s{i}", trigger=Leaf("step", f"s{i - 1}")) for i in range(1, n)]
    return Plan(name="chain", kind="flow", steps=tuple(steps))


def _markup(page: str) -> str:
    """The page without the vendored Mermaid bundle."""
    bundle = f"<script>{mermaid_js()}</script>"
    assert page.count(bundle) == 1
    return page.replace(bundle, "<script>MERMAID</script>")


def _source(page: str) -> str:
    found = re.search(r'<pre id="plait-source">([^<]*)</pre>', page)
    assert found is not None
    return found.group(1)


def _json(page: str, element_id: str) -> object:
    found = re.search(rf'<script type="application/json" id="{element_id}">([^<]*)</script>', page)
    assert found is not None
    return json.loads(found.group(1))


def test_page_carries_the_plan_name_counts_and_its_mermaid_text() -> None:
    plan = plait.compile(Review)
    page = html_page(plan)
    assert page.startswith("<!doctype html>")
    assert "<h1>Review</h1>" in page
    assert "flow · 8 steps · 1 router · 2 joins · 1 event · 1 loop edge" in page
    source = _source(page)
    assert source.startswith("flowchart TD\n")
    assert "s_review{&quot;review&quot;}" in source
    assert "s_review --&gt;|revise| j_2" in source
    titles = _json(page, "plait-titles")
    assert isinstance(titles, dict)
    assert titles["s_review"] == "router review\nwhen draft\nlabels: revise, publish"
    config = _json(page, "plait-config")
    assert isinstance(config, dict)
    assert config["layout"] == "elk"
    assert config["securityLevel"] == "strict"


def test_names_are_escaped_everywhere() -> None:
    plan = Plan(
        name="<i>plan</i>",
        kind="flow",
        steps=(
            PlanStep(name="<b>", start=True),
            PlanStep(name='r"&', kind="router", trigger=Leaf("step", "<b>"), labels=("</script>",)),
            PlanStep(name="x", trigger=Leaf("label", "</script>")),
        ),
    )
    markup = _markup(html_page(plan))
    assert "<b>" not in markup
    assert "<i>" not in markup
    assert markup.count("</script>") == 4  # titles, config, Mermaid, the drawing code
    assert "<title>&lt;i&gt;plan&lt;/i&gt; · plait plan</title>" in markup
    # in the Mermaid text, as Mermaid's own entity codes (then HTML-escaped)
    assert "s__b_[&quot;#60;b#62;&quot;]" in _source(markup)
    titles = _json(markup, "plait-titles")
    assert isinstance(titles, dict)
    assert titles["s__b_"] == "step <b>\nstart step"


def test_page_fetches_nothing() -> None:
    markup = _markup(html_page(plait.compile(Review))).lower()
    markup = markup.replace("'http://www.w3.org/2000/svg'", "svg_ns")  # a name, not fetched
    for needle in ("http://", "https://", "<link", "@import", "src=", "<iframe", "<img"):
        assert needle not in markup
    # the bundle itself is checked in a browser that refuses every request
    assert "</script" not in mermaid_js()


def test_the_vendored_bundle_is_the_released_file_with_its_licenses() -> None:
    data = (VENDOR / "mermaid.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == MERMAID_SHA256
    readme = (VENDOR / "README.md").read_text("utf-8")
    assert MERMAID_SHA256 in readme
    assert "12.3.0" in readme
    assert "MIT License" in (VENDOR / "LICENSE").read_text("utf-8")
    assert "Eclipse Public License" in (VENDOR / "LICENSE.elkjs.md").read_text("utf-8")
    assert "Apache License" in (VENDOR / "LICENSE.dompurify").read_text("utf-8")


def test_a_thousand_step_chain_renders_whole_and_quickly() -> None:
    began = time.perf_counter()
    page = html_page(_chain(1000))
    assert time.perf_counter() - began < 5
    source = _source(page)
    assert all(f"s_s{i}[" in source for i in range(1000))
    assert "flow · 1000 steps" in page


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
    source = _source(page)
    assert source.count(" --&gt; j_1") == n
    config = _json(page, "plait-config")
    assert isinstance(config, dict)
    assert config["maxEdges"] > 2 * n  # Mermaid refuses a diagram over its limits


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
    source = _source(page)
    assert all(f"s_{name}[" in source for name in ("extract", "total", "report"))
    assert "workflow · 3 steps · 1 join" in page  # report depends on two tasks
