"""Graph checks: reachability, joins, cycles and loops, parallel writes."""

from __future__ import annotations

import operator
from typing import Annotated, Any, ClassVar, Literal

import pytest
from pydantic import BaseModel

from plait import Flow, PlanError, Workflow, and_, compile, listen, or_, reducer, router, start


def problems_of(definition: object) -> tuple[str, ...]:
    with pytest.raises(PlanError) as info:
        compile(definition)
    return info.value.problems


def test_unreachable_steps_are_named() -> None:
    class Island(Flow):
        @start()
        def a(self) -> None: ...

        @listen("y")
        def x(self) -> None: ...

        @listen(x)
        def y(self) -> None: ...

    problems = problems_of(Island)
    assert any("'x' can never run" in p for p in problems)
    assert any("'y' can never run" in p for p in problems)


def test_and_over_two_labels_of_one_router_can_never_fire() -> None:
    class Exclusive(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def r(self) -> str:
            if self.state.get("q"):
                return "yes"
            return "no"

        @listen("yes")
        def on_yes(self) -> None: ...

        @listen("no")
        def on_no(self) -> None: ...

        @listen(and_("yes", "no"))
        def both(self) -> None: ...

    (problem,) = problems_of(Exclusive)
    assert "'both'" in problem and "never" in problem and "'r'" in problem
    assert "or_()" in problem


def test_and_over_two_labels_of_a_looping_router_is_fine() -> None:
    class Looping(Flow):
        @start()
        def s(self) -> None:
            self.state["n"] = 0

        @router(or_(s, "more"))
        def r(self) -> Literal["more", "also", "done"]:
            self.state["n"] += 1
            if self.state["n"] < 2:
                return "more"
            if self.state["n"] < 3:
                return "also"
            return "done"

        @listen(and_("more", "also"))
        def both(self) -> None: ...

        @listen("also")
        def step_back(self) -> None: ...

        @router(step_back)
        def back(self) -> Literal["more"]:
            return "more"

        @listen("done")
        def end(self) -> None: ...

    compile(Looping)


def test_a_cycle_without_a_router() -> None:
    class Cycle(Flow):
        @start("b")
        def a(self) -> None: ...

        @listen(a)
        def b(self) -> None: ...

    (problem,) = problems_of(Cycle)
    assert "a → b → a" in problem
    assert "router" in problem


def test_a_loop_whose_router_has_no_exit_label() -> None:
    class Forever(Flow):
        @start()
        def s(self) -> None: ...

        @router(or_(s, "again"))
        def r(self) -> str:
            return "again"

    problems = problems_of(Forever)
    assert any("'r'" in p or "r → r" in p for p in problems)
    assert any("can never end" in p for p in problems)


def test_a_loop_with_an_exit_label_compiles() -> None:
    class Counter(Flow):
        @start()
        def s(self) -> None: ...

        @router(or_(s, "again"))
        def r(self) -> str:
            if self.state.get("n", 0) < 3:
                return "again"
            return "done"

        @listen("done")
        def end(self) -> None: ...

    assert sorted(compile(Counter).step("r").labels or ()) == ["again", "done"]


def test_router_label_nobody_listens_to() -> None:
    class Deaf(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def r(self) -> Literal["left", "right"]:
            return "left"

        @listen("left")
        def go_left(self) -> None: ...

    (problem,) = problems_of(Deaf)
    assert "'r'" in problem and "'right'" in problem and "@listen('right')" in problem


def test_declared_labels_win_over_the_source() -> None:
    class Declared(Flow):
        @start()
        def s(self) -> None: ...

        @router(s, labels=["only"])
        def r(self) -> str:
            return "on" + "ly"

        @listen("only")
        def go(self) -> None: ...

    assert compile(Declared).step("r").labels == ("only",)


def test_a_router_whose_labels_cannot_be_read_accepts_any_label() -> None:
    class Open(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def r(self) -> str:
            return "l" + "eft"

        @listen("left")
        def go(self) -> None: ...

    plan = compile(Open)
    assert plan.step("r").labels is None
    trigger = plan.step("go").trigger
    assert trigger is not None and trigger.describe() == "label:left"


def test_two_start_steps_writing_one_key_conflict() -> None:
    class Race(Flow):
        @start()
        def a(self) -> None:
            self.state.x = 1

        @start()
        def b(self) -> None:
            self.state["x"] = 2

    (problem,) = problems_of(Race)
    assert "'a'" in problem and "'b'" in problem and "'x'" in problem
    assert "reducer" in problem


@pytest.mark.parametrize(
    "mutation",
    ["self.state['items'].append(1)", "del self.state['items']", "self.state.items: int = 1"],
)
def test_in_place_changes_and_deletes_count_as_writes(mutation: str) -> None:
    namespace: dict[str, object] = {"Flow": Flow, "start": start}
    source = (
        "class Race(Flow):\n"
        "    @start()\n"
        "    def a(self):\n"
        "        self.state['items'] = []\n"
        "    @start()\n"
        "    def b(self):\n"
        f"        {mutation}\n"
    )
    exec(compile_source(source), namespace)
    with pytest.raises(PlanError, match="'items'"):
        compile(namespace["Race"])


def compile_source(source: str) -> object:
    import builtins
    import linecache

    filename = f"<plait-test-{abs(hash(source))}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return builtins.compile(source, filename, "exec")


def test_steps_in_sequence_may_write_one_key() -> None:
    class Chain(Flow):
        @start()
        def a(self) -> None:
            self.state["x"] = 1

        @listen(a)
        def b(self) -> None:
            self.state["x"] = 2

    compile(Chain)


def test_a_declared_reducer_allows_parallel_writes() -> None:
    class Merged(Flow):
        reducers: ClassVar[dict[str, Any]] = {"x": operator.add}

        @start()
        def a(self) -> None:
            self.state["x"] = [1]

        @start()
        def b(self) -> None:
            self.state["x"] = [2]

    compile(Merged)


def test_an_annotated_reducer_allows_parallel_writes() -> None:
    class S(BaseModel):
        notes: Annotated[list[str], reducer(operator.add)] = []

    class Merged(Flow[S]):
        @start()
        def a(self) -> None:
            self.state.notes = ["a"]

        @start()
        def b(self) -> None:
            self.state.notes = ["b"]

    compile(Merged)


def test_augmented_assignment_on_a_reducer_key_is_rejected() -> None:
    class S(BaseModel):
        notes: Annotated[list[str], reducer(operator.add)] = []

    class Doubled(Flow[S]):
        @start()
        def a(self) -> None:
            self.state.notes += ["a"]

    (problem,) = problems_of(Doubled)
    assert "+=" in problem and "'notes'" in problem and "state.notes = value" in problem


def test_exclusive_router_branches_may_write_one_key() -> None:
    """Only one label of a router that runs once is taken, so its branches never overlap."""

    class Branches(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def r(self) -> Literal["yes", "no"]:
            return "yes" if self.state.get("q") else "no"

        @listen("yes")
        def on_yes(self) -> None:
            self.state["result"] = 1

        @listen("no")
        def on_no(self) -> None:
            self.state["result"] = 2

    compile(Branches)


def test_a_pure_dependency_cycle_is_named() -> None:
    wf = Workflow("w")
    wf.add(lambda b: b, name="a", depends_on=["b"])
    wf.add(lambda a: a, name="b", depends_on=["a"])
    problems = problems_of(wf)
    assert any("cycle" in p and ("a → b → a" in p or "b → a → b" in p) for p in problems), problems


def test_a_dependency_cycle_behind_a_start_task_is_named() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1, name="s")
    wf.add(lambda s, c: 1, name="b", depends_on=["s", "c"])
    wf.add(lambda b: b, name="c", depends_on=["b"])
    problems = problems_of(wf)
    assert any(
        "dependency cycle" in p and ("b → c → b" in p or "c → b → c" in p) for p in problems
    ), problems
    assert not any("'s'" in p for p in problems)  # the start task is fine


def test_router_labels_are_read_from_conditional_returns() -> None:
    class Ternary(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def r(self) -> str:
            return "yes" if self.state.get("q") else "no"

        @listen("yes")
        def on_yes(self) -> None: ...

        @listen("no")
        def on_no(self) -> None: ...

    assert sorted(compile(Ternary).step("r").labels or ()) == ["no", "yes"]
