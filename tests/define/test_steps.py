"""The step decorators and what they record, checked when the class is created."""

from __future__ import annotations

import pytest

from plait import DefinitionError, Flow, RetryPolicy, listen, router, start
from plait.define import AllOf, AnyOf, Leaf, StepDef, and_, or_


def test_decorators_record_steps_on_the_class() -> None:
    class Shop(Flow):
        @start()
        def open(self) -> str:
            return "open"

        @listen(open)
        async def sell(self, sign: str) -> str:
            return sign

        @router(sell)
        def check(self) -> str:
            return "done"

        @listen("done")
        def close(self) -> None:
            return None

    steps = Shop.__plait_steps__
    assert list(steps) == ["open", "sell", "check", "close"]
    assert all(isinstance(s, StepDef) for s in steps.values())
    assert steps["open"].start and steps["open"].condition is None
    assert steps["sell"].condition == Leaf("ref", "open")
    assert steps["sell"].is_async and steps["sell"].takes_input
    assert not steps["open"].is_async and not steps["open"].takes_input
    assert steps["check"].kind == "router"
    assert steps["close"].condition == Leaf("ref", "done")
    assert Shop.name == "Shop"


def test_listen_by_function_and_by_name_are_the_same_condition() -> None:
    def draft() -> None: ...

    assert or_(draft, "review") == AnyOf((Leaf("ref", "draft"), Leaf("ref", "review")))
    nested = or_("a", and_("b", "c"))
    assert nested == AnyOf((Leaf("ref", "a"), AllOf((Leaf("ref", "b"), Leaf("ref", "c")))))
    assert nested.describe() == "or_(a, and_(b, c))"


@pytest.mark.parametrize("decorator", [start, router])
def test_decorator_without_parentheses_fails_when_the_class_is_created(decorator) -> None:
    with pytest.raises(DefinitionError) as info:

        class Bad(Flow):
            @decorator
            def begin(self) -> str:
                return "x"

    text = str(info.value)
    assert "'Bad'" in text and "'begin'" in text
    assert f"@{decorator.__name__}(" in text


def test_two_step_decorators_on_one_function_are_rejected() -> None:
    with pytest.raises(DefinitionError, match="two step decorators"):

        class Bad(Flow):
            @start()
            def a(self) -> None: ...

            @listen(a)
            @start()
            def b(self) -> None: ...


def test_decorator_on_a_non_callable_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="must decorate a function"):
        start()(42)


@pytest.mark.parametrize("ref", [42, None, ""])
def test_listen_to_something_that_is_not_a_step_or_label(ref: object) -> None:
    with pytest.raises(DefinitionError):
        listen(ref)


@pytest.mark.parametrize("combine", [or_, and_])
def test_empty_or_and_are_rejected(combine) -> None:
    with pytest.raises(DefinitionError, match="at least one"):
        combine()


def test_step_options() -> None:
    class Opts(Flow):
        @start(retry=3, timeout=2.5, max_calls=7)
        def a(self) -> None: ...

        @router(a, labels=["x"], retry=RetryPolicy(attempts=2, backoff=0))
        def r(self) -> str:
            return "x"

        @listen("x")
        def b(self) -> None: ...

    a, r = Opts.__plait_steps__["a"], Opts.__plait_steps__["r"]
    assert a.options.retry == RetryPolicy(attempts=3)
    assert (a.options.timeout, a.options.max_calls) == (2.5, 7)
    assert r.options.labels == ("x",)
    assert r.options.retry is not None and r.options.retry.attempts == 2


@pytest.mark.parametrize(
    "kwargs", [{"timeout": 0}, {"timeout": -1}, {"max_calls": 0}, {"retry": "twice"}]
)
def test_bad_step_options_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(DefinitionError):
        start(**kwargs)


def test_subclass_inherits_and_overrides_steps() -> None:
    class Base(Flow):
        @start()
        def a(self) -> str:
            return "base"

        @listen(a)
        def b(self) -> None: ...

    class Child(Base):
        @start()
        def a(self) -> str:
            return "child"

        b = None  # type: ignore[assignment]

    assert list(Base.__plait_steps__) == ["a", "b"]
    assert list(Child.__plait_steps__) == ["a"]
    assert Child.__plait_steps__["a"].fn is Child.__dict__["a"]


def test_flow_name_defaults_to_class_name_and_can_be_set() -> None:
    class Named(Flow):
        name = "custom"

        @start()
        def a(self) -> None: ...

    class Plain(Flow):
        @start()
        def a(self) -> None: ...

    assert Named.name == "custom"
    assert Plain.name == "Plain"


@pytest.mark.parametrize("name", ["events", "run_id", "state"])
def test_a_step_may_not_take_the_name_of_a_flow_attribute(name: str) -> None:
    """A step called ``events`` is shadowed by the flow's own ``events`` list and fails
    mid-run; it must be refused before anything runs (STYLE: bad definitions fail when the
    graph is built, never mid-run)."""
    source = f"class Clash(Flow):\n    @start()\n    def {name}(self):\n        return 1\n"
    with pytest.raises(DefinitionError, match=name):
        namespace: dict[str, object] = {"Flow": Flow, "start": start}
        exec(source, namespace)
        namespace["Clash"]().kickoff()  # type: ignore[operator]
