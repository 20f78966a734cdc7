"""Graph checks: reachability, joins, cycles and loops, parallel writes.

For flows they are warnings (``compile(strict=True)`` raises them); a dependency cycle in
a task graph is an error."""

from __future__ import annotations

import operator
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal

import pytest
from pydantic import BaseModel

from plait import Flow, PlanError, Workflow, and_, compile, listen, or_, reducer, router, start
from plait.define import AllOf, AnyOf, Leaf
from plait.plan import PlanStep
from plait.plan._graph import edges_of, strongly_connected
from plait.plan._parallel import runs_once
from plait.plan._source import router_labels


def problems_of(definition: object) -> tuple[str, ...]:
    """What ``compile(strict=True)`` refuses; for a flow, these are also the warnings of
    a plain ``compile()``, which succeeds."""
    with pytest.raises(PlanError) as info:
        compile(definition, strict=True)
    return info.value.problems


def warnings_of(definition: object) -> tuple[str, ...]:
    """A flow's warnings: it compiles, and strict refuses exactly those."""
    warnings = compile(definition).warnings
    assert warnings and problems_of(definition) == warnings
    return warnings


def test_unreachable_steps_are_named() -> None:
    class Island(Flow):
        @start()
        def a(self) -> None: ...

        @listen("y")
        def x(self) -> None: ...

        @listen(x)
        def y(self) -> None: ...

    problems = warnings_of(Island)
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

    (problem,) = warnings_of(Exclusive)
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
        @start()
        def s(self) -> None: ...

        @listen(or_(s, "b"))
        def a(self) -> None: ...

        @listen(a)
        def b(self) -> None: ...

    (problem,) = warnings_of(Cycle)
    assert "a → b → a" in problem
    assert "router" in problem and "call limit" in problem


def test_a_conditional_start_hears_a_step_name_only_as_a_label() -> None:
    """CrewAI: ``@start("b")`` runs when a router returns "b", not when step b completes."""

    class Gated(Flow):
        @start("b")
        def a(self) -> None:
            self.state["a"] = self.state.get("a", 0) + 1

        @listen(a)
        def b(self) -> None: ...

    (problem,) = warnings_of(Gated)
    assert "start step 'a' waits for 'b', a step" in problem and "@listen(b)" in problem
    flow = Gated()
    flow.kickoff()  # the only start steps are conditional: they run at kickoff
    assert flow.state["a"] == 1  # and b completing does not start a again


def test_a_loop_whose_router_has_no_exit_label() -> None:
    class Forever(Flow):
        @start()
        def s(self) -> None: ...

        @router(or_(s, "again"))
        def r(self) -> str:
            return "again"

    problems = warnings_of(Forever)
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

    (problem,) = warnings_of(Deaf)
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

    (problem,) = warnings_of(Race)
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
        compile(namespace["Race"], strict=True)


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


# -- routers that may run more than once ----------------------------------------------


class TwiceRouted(Flow):
    """``r`` fires on either start step, so it runs twice and may take both labels."""

    @start()
    def a(self) -> int:
        return 1

    @start()
    def b(self) -> int:
        return 2

    @router(or_(a, b))
    def r(self, n: int) -> Literal["odd", "even"]:
        return "odd" if n % 2 else "even"

    @listen("odd")
    def on_odd(self) -> None: ...

    @listen("even")
    def on_even(self) -> None: ...


def test_and_over_two_labels_of_a_router_that_runs_twice_is_fine() -> None:
    class Both(TwiceRouted):
        @listen(and_("odd", "even"))
        def both(self) -> str:
            return "both seen"

    compile(Both)
    flow = Both()
    flow.kickoff()
    assert [e.step for e in flow.events if type(e).__name__ == "StepCompleted"].count("both") == 1


def test_branches_of_a_router_that_runs_twice_may_overlap() -> None:
    class Racing(TwiceRouted):
        @listen("odd")
        def write_odd(self) -> None:
            self.state["winner"] = "odd"

        @listen("even")
        def write_even(self) -> None:
            self.state["winner"] = "even"

    (problem,) = warnings_of(Racing)
    assert "'write_odd' and 'write_even'" in problem and "'winner'" in problem


def test_a_router_behind_a_conditional_start_may_run_more_than_once() -> None:
    class Again(Flow):
        @start()
        def s(self) -> None: ...

        @router(s)
        def kick(self) -> Literal["again"]:
            return "again"

        @start("again")  # runs each time the label is taken
        def t(self) -> None: ...

        @router(t)
        def r(self) -> Literal["yes", "no"]:
            return "yes" if self.state.get("q") else "no"

        @listen("yes")
        def on_yes(self) -> None:
            self.state["q"] = 1

        @listen("no")
        def on_no(self) -> None:
            self.state["q"] = 2

        @listen(and_("yes", "no"))
        def both(self) -> None: ...

    (problem,) = warnings_of(Again)  # both may fire; the two writers may overlap
    assert "'on_yes' and 'on_no'" in problem


def _once(steps: list[PlanStep]) -> dict[str, bool]:
    cycles = strongly_connected(edges_of(steps))
    return runs_once(steps, {name for comp in cycles for name in comp})


def test_runs_once_follows_the_trigger_rules() -> None:
    steps = [
        PlanStep("s", start=True),
        PlanStep("t", start=True, trigger=Leaf("step", "s")),
        PlanStep("r", kind="router", trigger=Leaf("step", "s"), labels=("x", "y")),
        PlanStep("on_x", trigger=Leaf("label", "x")),
        PlanStep("both", trigger=AllOf((Leaf("step", "s"), Leaf("step", "on_x")))),
        PlanStep("after_t", trigger=Leaf("step", "t")),
        PlanStep("either", trigger=AnyOf((Leaf("step", "s"), Leaf("step", "on_x")))),
        PlanStep("only", trigger=AnyOf((Leaf("step", "on_x"),))),
        PlanStep("ev", trigger=Leaf("event", "tick")),
        PlanStep("mixed", trigger=AllOf((Leaf("step", "s"), Leaf("event", "tick")))),
        PlanStep("loop_a", kind="router", trigger=Leaf("label", "again"), labels=("again",)),
        PlanStep("after_loop", trigger=Leaf("step", "loop_a")),
        PlanStep("r2", kind="router", trigger=Leaf("step", "s"), labels=("x",)),
        PlanStep("x_of_two", trigger=Leaf("label", "x")),  # x has two routers now
    ]
    once = _once(steps)
    assert once == {
        "s": True,
        "t": False,
        "r": True,
        "on_x": False,  # label x: two routers (r, r2)
        "both": False,
        "after_t": False,
        "either": False,
        "only": False,
        "ev": False,
        "mixed": False,
        "loop_a": False,
        "after_loop": False,
        "r2": True,
        "x_of_two": False,
    }


def test_runs_once_through_a_label_of_a_single_router() -> None:
    steps = [
        PlanStep("s", start=True),
        PlanStep("r", kind="router", trigger=Leaf("step", "s"), labels=("x", "y")),
        PlanStep("on_x", trigger=Leaf("label", "x")),
        PlanStep("join", trigger=AllOf((Leaf("label", "x"), Leaf("label", "y")))),
    ]
    assert _once(steps) == {"s": True, "r": True, "on_x": True, "join": True}


def test_runs_once_on_a_long_chain_needs_no_deep_recursion() -> None:
    n = 20_000
    steps = [PlanStep("s0", start=True)]
    steps += [PlanStep(f"s{i}", trigger=Leaf("step", f"s{i - 1}")) for i in range(1, n)]
    once = _once(steps)
    assert len(once) == n and all(once.values())


# -- router labels from annotations and returns (as CrewAI reads emit from them) -------


class Route(Enum):
    LEFT = "left"
    RIGHT = "right"


class Number(Enum):
    ONE = 1


def _labels_of(fn: Any) -> tuple[str, ...] | None:
    return router_labels(fn)


def test_router_labels_from_an_enum_annotation() -> None:
    def r(self: Any) -> Route:
        return Route.LEFT

    assert _labels_of(r) == ("left", "right")


def test_router_labels_from_an_optional_literal_and_annotated() -> None:
    def r(self: Any) -> Annotated[Literal["a", "b"] | Number | None, "doc"]:
        return None

    assert _labels_of(r) == ("a", "b", "1")


def test_router_labels_from_returns_of_none_and_numbers() -> None:
    def r(self: Any):  # type: ignore[no-untyped-def]
        if self.state.get("x"):
            return 0
        if self.state.get("y"):
            return None  # routes nowhere
        return "go"

    assert sorted(_labels_of(r) or ()) == ["0", "go"]


def test_a_str_in_the_annotation_leaves_the_labels_open_to_the_source() -> None:
    def r(self: Any) -> Literal["a"] | str:
        return "a" if self.state.get("x") else "b"

    assert sorted(_labels_of(r) or ()) == ["a", "b"]  # read from the returns
