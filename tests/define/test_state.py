"""Run state: dict or pydantic model; inputs that do not fit raise InputError."""

from __future__ import annotations

import operator

import pytest
from pydantic import BaseModel, ValidationError

from plait import Flow, InputError, Workflow, reducer, start


class Order(BaseModel):
    id: str = ""
    item: str
    count: int = 1


RAN: list[str] = []


class OrderFlow(Flow[Order]):
    @start()
    def take(self) -> str:
        RAN.append(self.state.item)
        return self.state.item


def _input_error(inputs: dict[str, object]) -> InputError:
    RAN.clear()
    with pytest.raises(InputError) as info:
        OrderFlow().kickoff(inputs)
    err = info.value
    assert type(err) is InputError
    assert not isinstance(err, KeyError | ValidationError)
    assert err.__cause__ is None  # no pydantic traceback chained onto the user's
    assert RAN == []  # nothing ran
    assert "'OrderFlow'" in str(err)
    return err


def test_missing_field_names_the_field_and_the_fix() -> None:
    text = str(_input_error({}))
    assert "item" in text
    assert "missing" in text
    assert "inputs={'item': ...}" in text


def test_wrong_type_names_the_field_and_what_it_got() -> None:
    text = str(_input_error({"item": "tea", "count": "many"}))
    assert "count" in text
    assert "'many'" in text
    assert "integer" in text


def test_unknown_key_names_the_key_and_the_fields() -> None:
    text = str(_input_error({"item": "tea", "cuont": 2}))
    assert "'cuont'" in text
    assert "item" in text and "count" in text  # the fields it does have


def test_several_problems_are_reported_together() -> None:
    class Two(BaseModel):
        a: int
        b: int

    class TwoFlow(Flow[Two]):
        @start()
        def go(self) -> None: ...

    with pytest.raises(InputError) as info:
        TwoFlow().kickoff({"a": "x"})
    text = str(info.value)
    assert "a:" in text and "b:" in text


def test_inputs_that_fit_reach_the_state_and_id_is_the_run_id() -> None:
    flow = OrderFlow()
    assert flow.kickoff({"item": "tea", "count": "3"}) == "tea"
    assert isinstance(flow.state, Order)
    assert flow.state.count == 3
    assert flow.state.id == flow.run_id != ""


def test_dict_state_takes_any_inputs_and_gets_the_run_id() -> None:
    class Free(Flow):
        @start()
        def go(self) -> object:
            return self.state["anything"]

    flow = Free()
    assert flow.kickoff({"anything": [1, 2]}) == [1, 2]
    assert flow.state["id"] == flow.run_id


def test_workflow_with_model_state_validates_inputs() -> None:
    class Params(BaseModel):
        n: int

    wf = Workflow("calc", state=Params)

    @wf.task()
    def double(n: int) -> int:
        return 2 * n

    assert wf.run({"n": "4"}) == 8
    with pytest.raises(InputError, match="'calc'"):
        wf.run({"n": "four"})


def test_reducer_needs_a_function() -> None:
    with pytest.raises(TypeError):
        reducer(42)  # type: ignore[arg-type]
    assert repr(reducer(operator.add)) == "reducer('add')"
