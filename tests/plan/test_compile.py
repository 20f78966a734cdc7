"""compile(): every problem of a definition, found before anything runs, listed at once."""

from __future__ import annotations

import operator
from typing import Annotated

import pytest
from pydantic import BaseModel

from plait import (
    DefinitionError,
    Flow,
    PlanError,
    Workflow,
    and_,
    compile,
    listen,
    or_,
    reducer,
    router,
    start,
)
from plait.define import Leaf


def problems_of(definition: object) -> tuple[str, ...]:
    with pytest.raises(PlanError) as info:
        compile(definition)
    err = info.value
    assert str(len(err.problems)) in str(err)
    for problem in err.problems:
        assert problem in str(err)
    return err.problems


def one_problem(definition: object, *needles: str) -> str:
    problems = problems_of(definition)
    found = [p for p in problems if all(n in p for n in needles)]
    assert found, f"no problem mentions {needles}: {problems}"
    return found[0]


def test_a_good_flow_compiles() -> None:
    class Good(Flow):
        @start()
        def a(self) -> int:
            return 1

        @listen(a)
        def b(self, value: int) -> int:
            return value

    plan = compile(Good)
    assert plan.step_names == ["a", "b"]


def test_unknown_listen_target_suggests_the_close_name() -> None:
    class Typo(Flow):
        @start()
        def draft(self) -> None: ...

        @listen("drafts")
        def review(self) -> None: ...

    text = one_problem(Typo, "'review'", "'drafts'")
    assert "did you mean 'draft'?" in text


def test_unknown_dependency_in_a_workflow() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1, name="extract")
    wf.add(lambda extract: 1, name="load", depends_on=["extrat"])
    text = one_problem(wf, "'load'", "'extrat'")
    assert "depends on" in text
    assert "did you mean 'extract'?" in text


def test_compile_rejects_what_is_not_a_definition() -> None:
    with pytest.raises(DefinitionError, match="cannot compile"):
        compile(42)


def test_a_flow_without_steps() -> None:
    class Empty(Flow):
        pass

    assert "no steps" in one_problem(Empty, "@start()")


def test_a_flow_without_a_start_step() -> None:
    class NoStart(Flow):
        @listen("b")
        def a(self) -> None: ...

        @listen(a)
        def b(self) -> None: ...

    one_problem(NoStart, "no start step")


def test_writing_an_unknown_field_of_a_model_state() -> None:
    class S(BaseModel):
        known: int = 0

    class Writes(Flow[S]):
        @start()
        def a(self) -> None:
            self.state.known = 1
            self.state.unknown = 2

    problems = problems_of(Writes)
    assert len(problems) == 1
    assert "'a'" in problems[0] and "unknown" in problems[0] and "S" in problems[0]


def test_a_declared_writes_list_is_taken_at_its_word() -> None:
    class S(BaseModel):
        known: int = 0

    class Declared(Flow[S]):
        @start(writes=["ghost"])
        def a(self) -> None:
            setattr(self.state, "known", 1)  # noqa: B010 - invisible to the source check

    one_problem(Declared, "'a'", "ghost")


def test_workflow_task_parameter_that_is_neither_dependency_nor_state_field() -> None:
    class Params(BaseModel):
        n: int = 1

    wf = Workflow("w", state=Params)
    wf.add(lambda n, m: n, name="calc")
    one_problem(wf, "'calc'", "'m'", "neither")


def test_compiled_flow_plans_are_cached() -> None:
    class Once(Flow):
        @start()
        def a(self) -> None: ...

    assert compile(Once) is compile(Once)
    assert compile(Once()) is compile(Once)


def test_a_workflow_is_compiled_again_after_it_changes() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1, name="a")
    assert compile(wf).step_names == ["a"]
    wf.add(lambda a: a, name="b", depends_on=["a"])
    assert compile(wf).step_names == ["a", "b"]


def test_every_problem_is_listed_at_once() -> None:
    class S(BaseModel):
        x: int = 0
        notes: Annotated[list[str], reducer(operator.add)] = []

    class Broken(Flow[S]):
        @start()
        def a(self) -> None:
            self.state.x = 1
            self.state.notes += ["a"]

        @start()
        def b(self) -> None:
            self.state.x = 2
            self.state.nope = 3

        @listen("bb")
        def typo(self) -> None: ...

        @listen("ping")
        def pong(self) -> None: ...

        @listen("pong")
        def ping(self) -> None: ...

        @router(a)
        def route(self) -> str:
            if self.state.x:
                return "yes"
            return "no"

        @listen("yes")
        def on_yes(self) -> None: ...

        @router(or_(b, "spin"))
        def spin_forever(self) -> str:
            return "spin"

        @listen(and_(a, ping))
        def never(self) -> None: ...

    problems = problems_of(Broken)
    expected = [
        ("'typo'", "'bb'", "did you mean 'b'?"),  # unknown target
        ("'b'", "nope"),  # unknown field
        ("+=", "'notes'"),  # += on a reducer key
        ("spin_forever", "never end"),  # a loop without an exit label
        ("ping", "pong", "no router"),  # a cycle without a router
        ("'route'", "'no'", "no step listens"),  # a label nobody listens to
        ("'ping'", "can never run"),  # unreachable
        ("'never'", "can never fire"),  # an and_ that can never fire
        ("'a'", "'b'", "'x'", "reducer"),  # a parallel write conflict
    ]
    for needles in expected:
        assert any(all(n in p for n in needles) for p in problems), (needles, problems)
    assert len(problems) >= len(expected)


def test_a_step_call_limit_wins_over_the_flow_default() -> None:
    class Limits(Flow):
        max_calls = 5

        @start(max_calls=1000)
        def explicit(self) -> None: ...

        @start(max_calls=7)
        def small(self) -> None: ...

        @start()
        def default(self) -> None: ...

    plan = compile(Limits)
    assert plan.step("default").max_calls == 5
    assert plan.step("small").max_calls == 7
    assert plan.step("explicit").max_calls == 1000


def test_a_step_named_like_the_label_it_listens_to_listens_to_the_label() -> None:
    class F(Flow):
        @start()
        def begin(self) -> None:
            return None

        @router(begin)
        def route(self) -> str:
            return "left" if self.state.get("x") else "right"

        @listen("left")
        def left(self) -> str:
            return "went left"

        @listen("right")
        def right(self) -> str:
            return "went right"

    plan = compile(F)
    assert plan.step("left").trigger == Leaf("label", "left")
    assert F().kickoff(inputs={"x": 1}) == "went left"
    assert F().kickoff() == "went right"
