"""Flow classes: the state type, instance defaults, aliases and state set before a run."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from plait import DefinitionError, Flow, FlowState, compile, listen, start


class Counter(BaseModel):
    count: int = 7


# -- the state type ---------------------------------------------------------------------


def test_initial_state_as_a_model_class_is_the_state_type() -> None:
    class ByClass(Flow):
        initial_state = Counter

        @start()
        def read(self) -> Any:
            return self.state

    state_type = ByClass.__plait_state_type__
    assert state_type is not None and issubclass(state_type, Counter)
    assert issubclass(state_type, FlowState)  # Counter has no id: it gets FlowState's
    assert compile(ByClass).state_fields == ("count", "id")
    flow = ByClass()
    out = flow.kickoff()
    assert isinstance(out, Counter) and out.count == 7 and out.id == flow.run_id


def test_initial_state_as_a_model_instance_gives_the_type_and_the_values() -> None:
    class ByInstance(Flow):
        initial_state = Counter(count=3)

        @start()
        def read(self) -> Any:
            return self.state

    state_type = ByInstance.__plait_state_type__
    assert state_type is not None and issubclass(state_type, Counter)
    out = ByInstance().kickoff()
    assert isinstance(out, Counter) and out.count == 3


def test_initial_state_of_another_model_than_flow_names_is_rejected() -> None:
    class Other(BaseModel):
        x: int = 0

    with pytest.raises(DefinitionError, match="initial_state is a Other"):

        class Mixed(Flow[Counter]):
            initial_state = Other

            @start()
            def go(self) -> None: ...


@dataclass
class Plain:
    count: int = 0


@pytest.mark.parametrize("state_type", [Plain, int, list[int]])
def test_a_state_type_that_is_not_a_model_fails_when_the_class_is_created(
    state_type: Any,
) -> None:
    with pytest.raises(DefinitionError) as info:

        class Bad(Flow[state_type]):  # type: ignore[valid-type]
            @start()
            def go(self) -> None: ...

    text = str(info.value)
    assert "'Bad'" in text and "pydantic model" in text and "Flow[dict]" in text


@pytest.mark.parametrize("state_type", [dict, dict[str, Any], Any])
def test_dict_state_types(state_type: Any) -> None:
    class Free(Flow[state_type]):  # type: ignore[valid-type]
        @start()
        def go(self) -> None: ...

    assert Free.__plait_state_type__ is None


# -- instance attributes ----------------------------------------------------------------


class NoSuper(Flow):
    def __init__(self, model: str = "gpt") -> None:
        self.model = model  # no super().__init__()

    @start()
    def a(self) -> str:
        self.state["seen"] = self.model
        return self.model


def test_a_subclass_that_skips_super_init_still_runs() -> None:
    flow = NoSuper()
    seen: list[str] = []
    flow.subscribe(lambda e: seen.append(type(e).__name__))
    assert flow.kickoff() == "gpt"
    assert flow.state["seen"] == "gpt" and flow.run_id
    assert seen[0] == "RunStarted" and seen[-1] == "RunCompleted"


def test_listeners_are_never_shared_between_instances() -> None:
    one, two = NoSuper(), NoSuper()
    one.subscribe(print)
    assert list(one._listeners) == [print]
    assert list(two._listeners) == [] and Flow._listeners == ()


# -- aliases ----------------------------------------------------------------------------


def test_an_alias_of_a_step_is_one_step() -> None:
    ran: list[str] = []

    class Aliased(Flow):
        @start()
        def begin(self) -> int:
            ran.append("begin")
            return 1

        first = begin

        @listen(begin)
        def after(self, x: int) -> int:
            return x + 1

    assert list(Aliased.__plait_steps__) == ["begin", "after"]
    assert [s.name for s in compile(Aliased).steps] == ["begin", "after"]
    assert Aliased().kickoff() == 2
    assert ran == ["begin"]


def test_a_step_stored_under_another_name_is_rejected() -> None:
    def plain(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any) -> Any:  # no functools.wraps
            return fn(self)

        return wrapper

    with pytest.raises(DefinitionError) as info:

        class Wrapped(Flow):
            @start()
            @plain
            def go(self) -> None: ...

    text = str(info.value)
    assert "'go'" in text and "'wrapper'" in text and "functools.wraps" in text

    def wrapped(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(self: Any) -> Any:
            return fn(self)

        return wrapper

    class Fine(Flow):
        @start()
        @wrapped
        def go(self) -> str:
            return "ok"

    assert Fine().kickoff() == "ok"


# -- state set before the run -----------------------------------------------------------


class Counting(Flow[Counter]):
    @start()
    def read(self) -> int:
        return self.state.count


def test_changes_to_model_state_before_kickoff_are_kept() -> None:
    flow = Counting()
    flow.state.count = 42
    assert flow.kickoff() == 42
    assert flow.kickoff() == 42  # each run starts from it
    assert flow.state.count == 42


def test_changes_to_dict_state_before_kickoff_are_kept_and_id_is_the_run_id() -> None:
    class Free(Flow):
        @start()
        def read(self) -> dict[str, Any]:
            return dict(self.state)

    flow = Free(initial_state={"topic": "ai"})
    flow.state["n"] = 1
    made_with = flow.state["id"]
    out = flow.kickoff()
    assert out == {"topic": "ai", "n": 1, "id": flow.run_id}
    assert flow.run_id == made_with  # the first run takes the id the state was made with
