"""The graph a plot draws: joins, router labels, loops, and who emits each event."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import plait
from plait import Flow, and_, emit, listen, on_event, or_, router, start
from plait.define import AllOf, AnyOf, Leaf
from plait.plan import Plan, PlanStep
from plait.plan._diagram import START, Diagram, diagram


def _edges(d: Diagram) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in d.edges}


def _loops(d: Diagram) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in d.edges if e.loop}


class Review(Flow):
    @start()
    def plan(self) -> None: ...

    @listen(plan)
    def search(self) -> None: ...

    @listen(plan)
    def ask(self) -> None: ...

    @listen(and_(search, ask))
    def merge(self) -> None: ...

    @listen(or_(merge, "revise"))
    def draft(self) -> None: ...

    @router(draft)
    def review(self) -> Literal["revise", "publish"]:
        return "publish"

    @listen("publish")
    def publish_post(self) -> None: ...


def test_joins_labels_and_the_loop() -> None:
    d = diagram(plait.compile(Review))
    kinds = {n.id: n.kind for n in d.nodes}
    assert kinds == {
        START: "start",
        "s_plan": "step",
        "s_search": "step",
        "s_ask": "step",
        "s_merge": "step",
        "s_draft": "step",
        "s_review": "router",
        "s_publish_post": "step",
        "j_1": "and",
        "j_2": "or",
    }
    assert _edges(d) == {
        (START, "s_plan", ""),
        ("s_plan", "s_search", ""),
        ("s_plan", "s_ask", ""),
        ("s_search", "j_1", ""),
        ("s_ask", "j_1", ""),
        ("j_1", "s_merge", ""),
        ("s_merge", "j_2", ""),
        ("s_review", "j_2", "revise"),
        ("j_2", "s_draft", ""),
        ("s_draft", "s_review", ""),
        ("s_review", "s_publish_post", "publish"),
    }
    assert _loops(d) == {("s_review", "j_2", "revise")}


def test_a_router_that_triggers_itself_is_a_loop() -> None:
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
    d = diagram(plan)
    assert _loops(d) == {("s_check", "j_1", "again")}
    assert ("s_check", "s_done", "ready") in _edges(d)


def test_an_or_inside_an_and_keeps_its_own_join() -> None:
    plan = Plan(
        name="nest",
        kind="flow",
        steps=(
            PlanStep(name="a", start=True),
            PlanStep(name="b", start=True),
            PlanStep(name="c", start=True),
            PlanStep(
                name="d",
                trigger=AllOf((AnyOf((Leaf("step", "a"), Leaf("step", "b"))), Leaf("step", "c"))),
            ),
        ),
    )
    d = diagram(plan)
    kinds = {n.id: n.kind for n in d.nodes}
    assert kinds["j_1"] == "or" and kinds["j_2"] == "and"
    assert {("s_a", "j_1", ""), ("s_b", "j_1", ""), ("j_1", "j_2", ""), ("s_c", "j_2", "")} <= (
        _edges(d)
    )
    assert ("j_2", "s_d", "") in _edges(d)


class Desk(Flow):
    @start()
    async def scan(self) -> None:
        for _ in range(3):
            self.emit("ticket", 1)
        self.emit("ticket", 2)  # once is enough
        plait.emit("audit")

    @listen(on_event("ticket"))
    def triage(self, ticket: int) -> None:
        name = "computed"
        emit(name, ticket)  # not a constant: not drawn
        emit(name="urgent", payload=ticket)

        def later() -> None:
            emit("never")  # another function's emit

    @listen(on_event("urgent"))
    def page(self) -> None: ...


def test_the_plan_records_what_each_step_emits() -> None:
    plan = plait.compile(Desk)
    assert [s.emits for s in plan.steps] == [("ticket", "audit"), ("urgent",), ()]
    d = diagram(plan)
    emits = {(e.source, e.target) for e in d.edges if e.emit}
    assert emits == {("s_scan", "e_ticket"), ("s_scan", "e_audit"), ("s_triage", "e_urgent")}
    assert ("e_ticket", "s_triage", "") in _edges(d)
    labels = {n.id: n.label for n in d.nodes if n.kind == "event"}
    assert labels == {
        "e_ticket": "event ticket",
        "e_urgent": "event urgent",
        "e_audit": "event audit",
    }
    assert not any(e.loop for e in d.edges)


def test_a_plan_read_back_from_json_still_draws_its_emits() -> None:
    plan = plait.compile(Desk)
    again = Plan.from_json(plan.to_json())
    assert [s.emits for s in again.steps] == [s.emits for s in plan.steps]
    assert diagram(again) == diagram(plan)


def test_a_plan_stored_without_emits_loads_and_draws_none() -> None:
    data = plait.compile(Desk).to_dict()
    for step in data["steps"]:
        del step["emits"]  # as plans stored before the field existed
    old = Plan.from_dict(data)
    assert all(s.emits == () for s in old.steps)
    assert not any(e.emit for e in diagram(old).edges)
    assert ("e_ticket", "s_triage", "") in _edges(diagram(old))  # listeners still drawn


def test_emits_are_read_from_flows_defined_inside_functions() -> None:
    def local_flow() -> type[Flow]:
        class Inner(Flow):
            @start()
            def go(self) -> None:
                emit("x")

        return Inner

    assert plait.compile(local_flow()).steps[0].emits == ("x",)


def test_reading_emits_runs_no_step_code(tmp_path: Path) -> None:
    ran = tmp_path / "ran"

    class Quiet(Flow):
        @start()
        def go(self) -> None:
            ran.write_text("yes")
            self.emit("done")

    assert plait.compile(Quiet).steps[0].emits == ("done",)
    assert not ran.exists()


def test_a_step_without_readable_source_emits_nothing() -> None:
    builder = plait.FlowBuilder("lambdas")
    builder.start("go", lambda flow: flow.emit("x"))  # a lambda: no function to read
    assert builder.plan().steps[0].emits == ()
