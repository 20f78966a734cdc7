from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import plait
from plait import DefinitionError, InputError, Stage, StageValidationError, StepError, pipeline
from plait.runtime import Event, StepCompleted, StepFailed, StepStarted


class Order(BaseModel):
    id: int
    amount: float


def run(wf: plait.Workflow, data: Any) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    return wf.run({"data": data}, listeners=[events.append]), events


def test_stages_run_in_order_each_receiving_the_previous_output() -> None:
    async def double(xs: list[int]) -> list[int]:
        await asyncio.sleep(0)
        return [x * 2 for x in xs]

    wf = pipeline(
        Stage("parse", lambda text: [int(x) for x in text.split(",")]),
        Stage("double", double),
        Stage("total", sum),
        name="numbers",
    )
    out, events = run(wf, "1,2,3")
    assert out == 12
    started = [e.step for e in events if isinstance(e, StepStarted)]
    assert started == ["parse", "double", "total"]
    outputs = {e.step: e.output for e in events if isinstance(e, StepCompleted)}
    assert outputs == {"parse": [1, 2, 3], "double": [2, 4, 6], "total": 12}


def test_plain_named_functions_are_stages() -> None:
    def strip(text: str) -> str:
        return text.strip()

    async def shout(text: str) -> str:
        return text.upper()

    wf = pipeline(strip, shout)
    assert wf.run({"data": "  hi "}) == "HI"
    assert list(wf.__plait_steps__) == ["strip", "shout"]
    refs = [step.ref for step in plait.compile(wf).steps]  # plans point at the user's code
    assert refs == [
        f"{__name__}:{name}.<locals>.{fn}"
        for name, fn in [
            ("test_plain_named_functions_are_stages", "strip"),
            ("test_plain_named_functions_are_stages", "shout"),
        ]
    ]


def test_stage_names_need_not_be_identifiers() -> None:
    wf = pipeline(Stage("load-data", str.split), Stage("count words", len))
    assert wf.run({"data": "a b c"}) == 3


def test_pydantic_model_validators_coerce_values() -> None:
    seen: list[Any] = []

    def total(orders: list[Order]) -> float:
        seen.extend(orders)
        return sum(o.amount for o in orders)

    wf = pipeline(
        Stage("extract", lambda rows: rows, output=list[Order]),
        Stage("total", total, input=list[Order], output=float),
    )
    out = wf.run({"data": [{"id": "1", "amount": "2.5"}, {"id": 2, "amount": 1}]})
    assert out == 3.5
    assert all(isinstance(o, Order) for o in seen)


def test_model_class_validates_a_single_value() -> None:
    wf = pipeline(Stage("id", lambda o: o, input=Order), Stage("amount", lambda o: o.amount))
    assert wf.run({"data": {"id": 1, "amount": "4"}}) == 4.0


def test_callable_validator_returns_the_value_to_pass_on() -> None:
    wf = pipeline(Stage("words", str.split, output=lambda ws: [w.lower() for w in ws]))
    assert wf.run({"data": "A b C"}) == ["a", "b", "c"]


def test_input_validation_failure_names_pipeline_stage_side_and_problem() -> None:
    ran: list[str] = []

    def load(total: float) -> None:
        ran.append("load")

    wf = pipeline(
        Stage("extract", lambda rows: rows),
        Stage("transform", lambda os: sum(o.amount for o in os), input=list[Order]),
        Stage("load", load),
        name="orders",
    )
    events: list[Event] = []
    with pytest.raises(StageValidationError) as info:
        wf.run({"data": [{"id": 1, "amount": "ten"}]}, listeners=[events.append])
    err = info.value
    text = str(err)
    assert "pipeline 'orders'" in text
    assert "stage 'transform'" in text
    assert "input failed validation against list[Order]" in text
    assert "0.amount" in text and "valid number" in text and "'ten'" in text
    assert (err.flow, err.step, err.attempt) == ("orders", "transform", 1)
    assert err.run_id
    assert isinstance(err.__cause__, ValidationError)
    assert isinstance(err, StepError)
    failed = [e for e in events if isinstance(e, StepFailed)]
    assert [(e.step, e.error_type) for e in failed] == [("transform", "StageValidationError")]
    assert "stage 'transform': input failed" in failed[0].error
    assert ran == []


def test_output_validation_failure_says_output() -> None:
    wf = pipeline(Stage("make", lambda x: {"id": x}, output=Order), name="mk")
    with pytest.raises(StageValidationError, match=r"stage 'make': output failed") as info:
        wf.run({"data": 7})
    assert "amount: Field required" in str(info.value)
    assert "1 validation error" in str(info.value)


def test_raising_callable_validator_fails_the_stage_in_sync_and_async_stages() -> None:
    def positive(n: int) -> int:
        if n <= 0:
            raise ValueError(f"{n} is not positive")
        return n

    async def minus_ten(n: int) -> int:
        return n - 10

    for fn in (lambda n: n - 10, minus_ten):
        wf = pipeline(Stage("shift", fn, output=positive), name="p")
        assert wf.run({"data": 15}) == 5
        with pytest.raises(StageValidationError) as info:
            wf.run({"data": 3})
        assert "stage 'shift': output failed validation by" in str(info.value)
        assert "positive: ValueError: -7 is not positive" in str(info.value)


def test_missing_run_input_names_data() -> None:
    wf = pipeline(Stage("first", str.upper))
    with pytest.raises(InputError) as info:  # before the first stage runs
        wf.run({})
    assert "task 'first' takes 'data'" in str(info.value)
    assert list(wf.events) == []


def test_stage_errors_keep_the_users_exception_as_cause() -> None:
    def boom(_: object) -> None:
        raise KeyError("nope")

    with pytest.raises(StepError, match=r"step 'boom'.*KeyError") as info:
        pipeline(boom).run({"data": 1})
    assert isinstance(info.value.__cause__, KeyError)


def test_pipelines_run_async() -> None:
    wf = pipeline(Stage("inc", lambda x: x + 1), Stage("sq", lambda x: x * x))
    assert asyncio.run(wf.run_async({"data": 2})) == 9


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: pipeline(), "at least one stage"),
        (lambda: pipeline(Stage("a", str), Stage("a", str)), "repeated: a"),
        (lambda: pipeline(lambda x: x), "Stage(name, fn)"),
        (lambda: pipeline(42), "Stage(name, fn)"),  # type: ignore[arg-type]
        (lambda: Stage("", str), "non-empty name"),
        (lambda: Stage("a", 3), "must be a function"),  # type: ignore[arg-type]
        (lambda: Stage("a", str, input=42), "input= must be"),
        (lambda: Stage("a", str, output=object()), "output= must be"),
    ],
)
def test_bad_definitions_fail_when_built(build: Any, message: str) -> None:
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()
