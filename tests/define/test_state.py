"""Run state: dict or pydantic model; inputs that do not fit raise InputError."""

from __future__ import annotations

import logging
import operator
import uuid
from types import SimpleNamespace
from typing import Annotated, Any, Optional

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from plait import DefinitionError, Flow, InputError, Workflow, compile, reducer, start
from plait.define import StateDict, build_state, current_step, live_mapping


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


def test_an_unknown_key_is_ignored_with_a_warning_naming_the_nearest_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As in CrewAI, inputs a model state has no field for are left out.
    with caplog.at_level(logging.WARNING, logger="plait"):
        assert OrderFlow().kickoff({"item": "tea", "cuont": 2}) == "tea"
    text = caplog.text
    assert "'cuont' (did you mean 'count'?)" in text
    assert "item" in text and "count" in text  # the fields it does have


def test_an_unknown_key_is_an_error_for_a_model_that_forbids_extras() -> None:
    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")
        item: str = ""

    class StrictFlow(Flow[Strict]):
        @start()
        def go(self) -> None: ...

    with pytest.raises(InputError, match="'cuont'"):
        StrictFlow().kickoff({"cuont": 2})


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


# -- the run id in a model's id field ---------------------------------------------------


def test_a_uuid_id_with_a_default_factory_keeps_its_own_value() -> None:
    class Ticket(BaseModel):
        id: uuid.UUID = Field(default_factory=uuid.uuid4)
        topic: str = "x"

    class TicketFlow(Flow[Ticket]):
        @start()
        def go(self) -> uuid.UUID:
            return self.state.id

    flow = TicketFlow()
    out = flow.kickoff()
    assert isinstance(out, uuid.UUID) and flow.run_id != ""


@pytest.mark.parametrize(
    ("annotation", "default", "gets_run_id"),
    [
        (str, "", True),
        (str | None, None, True),
        (Optional[str], None, True),  # noqa: UP045 - the typing spelling
        (str, "custom", False),
        (int, 0, False),
        (int | None, None, False),
    ],
)
def test_the_run_id_goes_into_id_only_where_it_fits(
    annotation: Any, default: Any, gets_run_id: bool
) -> None:
    model = create_model("S", id=(annotation, default))
    state = build_state("f", model, None, {}, "r1")
    assert state.id == ("r1" if gets_run_id else default)


def test_a_required_str_id_is_the_run_id() -> None:
    class Needs(BaseModel):
        id: str

    class NeedsFlow(Flow[Needs]):
        @start()
        def go(self) -> str:
            return self.state.id

    flow = NeedsFlow()
    assert flow.kickoff() == flow.run_id
    assert flow.kickoff({"id": "mine"}) == "mine"  # an id given in the inputs wins


# -- StateDict --------------------------------------------------------------------------


def test_in_place_or_goes_through_reducers_and_notes_the_writer() -> None:
    state = StateDict({"notes": ["a"]}, {"notes": operator.add})
    token = current_step.set(SimpleNamespace(step="writer"))
    try:
        state |= {"notes": ["b"], "other": 1}
    finally:
        current_step.reset(token)
    assert type(state) is StateDict
    assert state == {"notes": ["a", "b"], "other": 1}
    assert state.writers == {"notes": "writer", "other": "writer"}


def test_live_mapping_is_the_dict_or_the_models_current_dict() -> None:
    plain = build_state("f", None, None, {"a": 1}, "r1")
    assert live_mapping(plain) is plain
    model = build_state("f", Order, None, {"item": "tea"}, "r1")
    assert live_mapping(model) is model.__dict__
    assert isinstance(live_mapping(model), StateDict)


class Checked(BaseModel):
    model_config = ConfigDict(validate_assignment=True)
    count: int = 0
    note: str = ""


def test_validate_assignment_replaces_the_mapping_and_live_mapping_follows() -> None:
    model = build_state("f", Checked, None, {}, "r1")
    model.count = 3
    assert live_mapping(model) is model.__dict__
    assert live_mapping(model)["count"] == 3


def test_validate_assignment_with_reducers_is_a_definition_error() -> None:
    class Notes(BaseModel):
        model_config = ConfigDict(validate_assignment=True)
        notes: Annotated[list[str], reducer(operator.add)] = []

    class NotesFlow(Flow[Notes]):
        @start()
        def go(self) -> None:
            self.state.notes = ["x"]

    with pytest.raises(DefinitionError, match="validate_assignment") as info:
        compile(NotesFlow)
    assert "'notes'" in str(info.value)
    with pytest.raises(DefinitionError, match="validate_assignment"):
        build_state("f", Notes, None, {}, "r1", {"notes": operator.add})


def test_state_ids_are_random_version_4_uuids() -> None:
    import uuid

    from plait.define._state import new_state_id

    ids = {new_state_id() for _ in range(1000)}
    assert len(ids) == 1000
    for text in list(ids)[:50]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_state_ids_of_threads_and_forked_children_never_repeat() -> None:
    import os
    import threading

    from plait.define._state import new_state_id

    made: list[str] = []

    def make() -> None:
        made.extend(new_state_id() for _ in range(2000))  # crosses several refills

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == len(made) == 8000

    new_state_id()  # the random bytes read ahead are now in this process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids must not be the parent's next ids
        os.write(write, " ".join(new_state_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = set(os.read(read, 4096).decode().split())
    os.close(read)
    assert len(child) == 3
    assert not child & {new_state_id() for _ in range(3)}
