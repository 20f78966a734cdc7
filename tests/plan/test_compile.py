"""compile(): every problem of a definition, found before anything runs, listed at once.

Errors (what cannot run) raise; for flows, what runs but maybe not as meant is a warning
(CrewAI runs such flows too), which ``strict=True`` raises as well."""

from __future__ import annotations

import gc
import logging
import operator
import weakref
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel

from plait import (
    DefinitionError,
    Flow,
    FlowBuilder,
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
    """Every problem, errors and warnings, as ``compile(strict=True)`` lists them."""
    with pytest.raises(PlanError) as info:
        compile(definition, strict=True)
    err = info.value
    assert str(len(err.problems)) in str(err)
    for problem in err.problems:
        assert problem in str(err)
    return err.problems


def warning_of(definition: object, *needles: str) -> str:
    """The warning that mentions ``needles``: the definition compiles without strict."""
    warnings = compile(definition).warnings
    found = [w for w in warnings if all(n in w for n in needles)]
    assert found, f"no warning mentions {needles}: {warnings}"
    assert found[0] in problems_of(definition)  # strict refuses it
    return found[0]


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

    text = warning_of(Typo, "'review'", "'drafts'")
    assert "did you mean 'draft'?" in text
    assert "runs only if a router returns 'drafts'" in text
    assert Typo().kickoff() is None  # review never fires (as in CrewAI)


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


def test_a_flow_without_steps_runs_and_does_nothing() -> None:
    class Empty(Flow):
        pass

    assert "no steps" in warning_of(Empty, "@start()")
    assert Empty().kickoff() is None


def test_a_flow_without_a_start_step_runs_and_does_nothing() -> None:
    class NoStart(Flow):
        @listen("b")
        def a(self) -> None: ...

        @listen(a)
        def b(self) -> None: ...

    warning_of(NoStart, "no start step")
    assert NoStart().kickoff() is None


def test_a_workflow_without_tasks_is_an_error() -> None:
    one_problem(Workflow("w"), "no steps")
    with pytest.raises(PlanError):
        compile(Workflow("w2"))


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
    assert compile(Writes).warnings == problems  # a warning: the step fails if it runs


def test_a_declared_writes_list_is_taken_at_its_word() -> None:
    class S(BaseModel):
        known: int = 0

    class Declared(Flow[S]):
        @start(writes=["ghost"])
        def a(self) -> None:
            setattr(self.state, "known", 1)  # noqa: B010 - invisible to the source check

    warning_of(Declared, "'a'", "ghost")


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


def test_the_plan_cache_does_not_keep_a_built_flow_class_alive() -> None:
    builder = FlowBuilder("built")
    builder.start("a", lambda flow: 1)
    flow = builder.build()
    cls = type(flow)
    assert compile(flow) is compile(cls)  # cached for the class
    gone = weakref.ref(cls)
    del builder, flow, cls
    gc.collect()
    assert gone() is None


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

    with pytest.raises(PlanError) as info:
        compile(Broken)  # without strict: only what cannot run
    (error,) = info.value.problems
    assert "+=" in error and "'notes'" in error
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


class Warned(Flow):
    @start()
    def s(self) -> None: ...

    @router(s)
    def r(self) -> Literal["yes", "no"]:
        return "no"

    @listen("yes")
    def on_yes(self) -> None: ...


def test_warnings_are_kept_on_the_plan_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    class Once(Warned):
        pass

    with caplog.at_level(logging.WARNING, logger="plait"):
        plan = compile(Once)
        compile(Once)
        Once().kickoff()
    (warning,) = plan.warnings
    assert "'r' can return 'no', but no step listens to it" in warning
    records = [r for r in caplog.records if r.name.startswith("plait") and "'Once'" in r.message]
    assert len(records) == 1  # once per plan, not per compile() or kickoff
    assert records[0].levelno == logging.WARNING and warning in records[0].getMessage()


def test_strict_refuses_what_only_warns() -> None:
    class Strict(Warned):
        pass

    with pytest.raises(PlanError) as info:
        compile(Strict, strict=True)
    assert info.value.problems == compile(Strict).warnings
    with pytest.raises(PlanError):
        compile(Strict, strict=True)  # from the cached plan too
    assert compile(Strict).warnings  # and without strict it still compiles


def test_a_name_that_is_a_step_and_a_label_fires_on_either() -> None:
    class Both(Flow):
        @start()
        def s(self) -> None:
            self.state["seen"] = []

        @listen("s")
        def x(self, value: object) -> None:
            self.state["seen"].append(value)

        @router(x)
        def r(self) -> Literal["s", "end"]:
            return "s" if len(self.state["seen"]) < 2 else "end"

    warning_of(Both, "'x' listens to 's'", "also a label of router 'r'")
    flow = Both()
    flow.kickoff()
    assert flow.state["seen"] == [None, "s"]  # s completed, then r returned "s"
