"""Mermaid text for a plan: every step, every edge, labels and joins."""

from __future__ import annotations

from typing import Literal

import pytest

from plait import Flow, PlaitError, Workflow, and_, emit, listen, on_event, or_, router, start
from plait.define import Leaf
from plait.plan import Plan, PlanStep, render


class Shop(Flow):
    @start()
    def open(self) -> None: ...

    @start()
    def stock(self) -> None: ...

    @listen(and_(open, stock))
    def sell(self) -> None: ...

    @router(sell)
    def check(self) -> Literal["more", "close"]:
        return "close"

    @listen("more")
    def reorder(self) -> None: ...

    @listen("close")
    def shut(self) -> None: ...

    @listen(on_event("alarm"))
    def alarm(self) -> None: ...


def test_mermaid_has_every_step_and_edge() -> None:
    text = Shop().plot()
    assert text.startswith("flowchart TD\n")
    for name in ("open", "stock", "sell", "reorder", "shut", "alarm"):
        assert f's_{name}["{name}"]' in text
    assert 's_check{"check"}' in text  # a router is a diamond
    assert "__start__ --> s_open" in text and "__start__ --> s_stock" in text
    assert 'j_1(("and"))' in text
    assert "s_open --> j_1" in text and "s_stock --> j_1" in text and "j_1 --> s_sell" in text
    assert "s_check -->|more| s_reorder" in text
    assert "s_check -->|close| s_shut" in text
    assert "e_alarm --> s_alarm" in text


def test_workflow_plot() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1, name="a")
    wf.add(lambda a: a, name="b", depends_on=["a"])
    text = wf.plot()
    assert "__start__ --> s_a" in text
    assert "s_a" in text and "s_b" in text


def test_unknown_format() -> None:
    with pytest.raises(PlaitError, match="unknown plot format"):
        Shop().plot(fmt="png")


class Loop(Flow):
    @start()
    def fetch(self) -> None:
        emit("fetched", 1)

    @listen(or_(fetch, "again"))
    def parse(self) -> None:
        self.emit("parsed")

    @router(parse)
    def check(self) -> Literal["again", "done"]:
        return "done"

    @listen(and_("done", on_event("parsed")))
    def finish(self) -> None: ...


def test_mermaid_shows_or_joins_loops_and_emits() -> None:
    lines = Loop().plot().splitlines()
    assert '  j_1(("or"))' in lines
    assert '  j_2(("and"))' in lines
    assert '  e_parsed>"event parsed"]' in lines
    edges = [line.strip() for line in lines if "->" in line]
    assert edges == [
        "__start__ --> s_fetch",
        "s_fetch --> j_1",
        "s_check -->|again| j_1",
        "j_1 --> s_parse",
        "s_parse --> s_check",
        "s_check -->|done| j_2",
        "e_parsed --> j_2",
        "j_2 --> s_finish",
        "s_fetch -.->|emits| e_fetched",
        "s_parse -.->|emits| e_parsed",
    ]
    # the loop (check -> or -> parse) is dashed orange; emits are cyan
    assert "  linkStyle 2 stroke:#d97706,stroke-dasharray:6 4" in lines
    assert "  linkStyle 8,9 stroke:#0891b2" in lines
    assert "  class j_1 or" in lines


def test_odd_names_get_distinct_ids_and_mermaid_escapes() -> None:
    plan = Plan(
        name="odd",
        kind="flow",
        steps=(
            PlanStep(name="a-b", start=True),
            PlanStep(name="a_b", start=True),
            PlanStep(name='say "hi"; #1', trigger=Leaf("step", "a-b")),
            PlanStep(name="end", trigger=Leaf("step", "a_b")),
        ),
    )
    lines = render(plan, "mermaid").splitlines()
    assert '  s_a_b["a-b"]' in lines
    assert '  s_a_b_2["a_b"]' in lines
    assert '  s_say__hi____1["say #quot;hi#quot;; #35;1"]' in lines
    assert '  s_end["end"]' in lines  # not Mermaid's keyword: ids are prefixed
    assert "  s_a_b --> s_say__hi____1" in lines
    assert "  s_a_b_2 --> s_end" in lines
