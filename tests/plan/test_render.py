"""Mermaid text for a plan: every step, every edge, labels and joins."""

from __future__ import annotations

from typing import Literal

import pytest

from plait import Flow, PlaitError, Workflow, and_, listen, on_event, router, start


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
    assert "j_1((and))" in text
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
