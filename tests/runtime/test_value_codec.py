"""The value codec: every common value round-trips with its type, user data never reads
as a tag, decoding imports nothing, format-1 data still reads, and what cannot be stored
names its field."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from plait.agents import AgentResult, CrewOutput, TaskOutput
from plait.core import StoreError
from plait.llm import Message, Response, ToolCall, Usage
from plait.runtime import (
    EVENT_FORMAT,
    VALUE_FORMAT,
    RunStarted,
    StateChanged,
    StepCompleted,
    decode_value,
    dumps_event,
    from_json_value,
    loads_event,
    to_json_value,
)
from plait.testing._conformance_values import (
    LOOKALIKES,
    UNSTORABLE,
    Colour,
    Point,
    Stamped,
    rich_value,
    same,
)


def round_trip(value: Any) -> Any:
    return from_json_value(json.loads(json.dumps(to_json_value(value, "value"))))


def test_every_kind_of_value_round_trips_with_its_type() -> None:
    value = rich_value()
    assert same(round_trip(value), value)


def test_plain_json_is_stored_as_itself() -> None:
    value = {"a": [1, 2.5, "é", None, True], "b": {"c": "d"}}
    assert to_json_value(value, "value") == value


@pytest.mark.parametrize("value", LOOKALIKES, ids=repr)
def test_user_dicts_that_look_like_tags_come_back_unchanged(value: Any) -> None:
    stored = to_json_value(value, "value")
    assert not any(k[:1] == "$" and k[1:2] != "$" for k in stored)  # escaped: no tag
    assert same(round_trip(value), value)
    assert same(round_trip([value, (value,), {"k": value}]), [value, (value,), {"k": value}])


def test_decoding_never_imports_a_module() -> None:
    assert "this" not in sys.modules  # importing it prints the Zen of Python
    forged = [
        {"$model": ["this:x", {"a": 1}]},
        {"$dataclass": ["this:x", {"a": 1}]},
        {"$enum": ["this:x", 1]},
        {"$namedtuple": ["this:x", [1]]},
    ]
    assert from_json_value(forged) == [{"a": 1}, {"a": 1}, 1, (1,)]
    assert decode_value({"$model": "this:x", "data": {"a": 1}}, 1) == {"a": 1}
    assert "this" not in sys.modules


def test_a_class_this_process_does_not_know_comes_back_as_plain_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = {"$model": ["elsewhere.models:Invoice", {"total": {"$decimal": "1.5"}}]}
    with caplog.at_level(logging.WARNING, logger="plait"):
        assert same(from_json_value(data), {"total": Decimal("1.5")})
    assert "elsewhere.models:Invoice" in caplog.text and "register_type" in caplog.text


def test_format_1_values_still_read() -> None:
    """What plait wrote before format 2: tuples, bytes and models were tagged, user keys
    were not escaped; a user dict shaped like a tag that does not read stays a dict."""
    ref = f"{Stamped.__module__}:{Stamped.__qualname__}"
    to_json_value(Stamped(when="2024-01-01T00:00:00", amount="1"), "value")  # registered
    old = {
        "pair": {"$tuple": [1, {"$tuple": ["x"]}]},
        "raw": {"$bytes": "AP8="},
        "model": {"$model": ref, "data": {"when": "2024-01-01T00:00:00", "amount": "1"}},
        "not_bytes": {"$bytes": "abc"},
        "$set": [1],
    }
    back = decode_value(old, 1)
    assert back["pair"] == (1, ("x",)) and back["raw"] == b"\x00\xff"
    assert isinstance(back["model"], Stamped) and back["model"].amount == 1
    assert back["not_bytes"] == {"$bytes": "abc"} and back["$set"] == [1]


def test_an_event_stored_in_format_1_still_reads() -> None:
    text = json.dumps(
        {
            "v": 1,
            "type": "StepCompleted",
            "run_id": "r1",
            "seq": 3,
            "ts": 3.0,
            "step": "s",
            "invocation": 1,
            "output": {"t": {"$tuple": [1, 2]}, "b": {"$bytes": "abc"}, "$x": 1},
            "duration": 0.5,
        }
    )
    event = loads_event(text)
    assert isinstance(event, StepCompleted)
    assert event.output == {"t": (1, 2), "b": {"$bytes": "abc"}, "$x": 1}
    removed = '{"v":1,"type":"StateChanged","run_id":"r","seq":2,"ts":1.0,"step":"s",'
    removed += '"changes":{},"removed":{"$tuple":["a"]}}'
    assert loads_event(removed) == StateChanged(
        run_id="r", seq=2, ts=1.0, step="s", changes={}, removed=("a",)
    )


def test_events_say_their_format_and_a_newer_one_is_refused() -> None:
    event = StepCompleted(run_id="r", seq=1, ts=1.0, step="s", invocation=1, output={1, 2})
    data = json.loads(dumps_event(event))
    assert data["v"] == EVENT_FORMAT == 2 and VALUE_FORMAT == 2
    data["v"] = EVENT_FORMAT + 1
    with pytest.raises(StoreError, match="newer than this plait reads"):
        loads_event(json.dumps(data))
    with pytest.raises(StoreError, match="newer than this plait reads"):
        decode_value({}, VALUE_FORMAT + 1)


@pytest.mark.parametrize(("name", "make", "path"), UNSTORABLE, ids=[u[0] for u in UNSTORABLE])
def test_what_cannot_be_stored_names_the_event_step_and_field(
    name: str, make: Any, path: str
) -> None:
    event = StepCompleted(run_id="r", seq=4, ts=1.0, step="fetch", invocation=1, output=make())
    with pytest.raises(StoreError) as info:
        dumps_event(event)
    message = str(info.value)
    assert f"StepCompleted #4 (step 'fetch'): output{path}" in message
    assert "cannot be stored" in message


def test_a_deep_path_is_shortened_in_the_message() -> None:
    deep: dict[str, Any] = {}
    here = deep
    for _ in range(300):
        here["d"] = {}
        here = here["d"]
    with pytest.raises(StoreError, match=r"levels\)….*more than 100 levels deep") as info:
        to_json_value(deep, "value")
    assert len(str(info.value)) < 300


def test_sets_encode_in_a_stable_order() -> None:
    words = [f"w{i}" for i in range(50)]
    assert to_json_value(set(words), "v") == to_json_value(set(reversed(words)), "v")


def test_plaits_own_result_types_round_trip() -> None:
    usage = Usage(input_tokens=3, output_tokens=4)
    stamped = Stamped(when="2024-01-01T10:00:00+02:00", amount="2.50", tags={"x"})
    task = TaskOutput(
        description="d", agent="a", raw="text", output=stamped, tool_calls=["t"], usage=usage
    )
    response = Response(
        text="hi",
        tool_calls=[ToolCall(id="1", name="f", arguments={"n": 1})],
        usage=usage,
        provider="scripted",
    )
    values = [
        task,
        AgentResult(output=Point(1, 2.0), text="t", iterations=2, usage=usage),
        CrewOutput(raw="r", output=(1, 2), tasks_output=[task], token_usage=usage),
        response,
        Message.assistant("x", [ToolCall(id="2", name="g")]),
    ]
    back = round_trip(values)
    assert same(back, values)
    assert isinstance(back[0].output, Stamped) and isinstance(back[0].usage, Usage)


def test_a_run_started_stores_an_input_its_state_holds_once() -> None:
    blob = "x" * 10_000
    event = RunStarted(
        run_id="r", seq=1, ts=1.0, flow="f", inputs={"blob": blob}, state={"id": "r", "blob": blob}
    )
    text = dumps_event(event)
    assert text.count(blob) == 1
    assert loads_event(text) == event
    kept = dumps_event(event, inputs_in_run=True)
    assert blob not in kept
    assert loads_event(kept, {"blob": blob}) == event
    with pytest.raises(StoreError, match="keeps its inputs with the run's record"):
        loads_event(kept)


def test_a_model_named_by_a_flow_is_found_in_a_fresh_process(tmp_path: Path) -> None:
    """A process that never stored a Report reads one back as a Report, because a flow
    it defined names the class; a class no flow names comes back as a dict."""
    (tmp_path / "reports.py").write_text(
        textwrap.dedent(
            """
            from pydantic import BaseModel
            from plait import Flow, start

            class Detail(BaseModel):
                note: str

            class Report(BaseModel):
                title: str
                details: list[Detail] = []

            class Unnamed(BaseModel):
                x: int

            class Reporting(Flow):
                @start()
                def report(self) -> Report:
                    return Report(title="t", details=[Detail(note="n")])
            """
        )
    )
    write = "from plait.runtime import dumps_event, StepCompleted\n"
    write += "from reports import Report, Detail, Unnamed\n"
    write += "e = StepCompleted(run_id='r', seq=1, ts=1.0, step='s', invocation=1,\n"
    write += "    output=[Report(title='t', details=[Detail(note='n')]), Unnamed(x=1)])\n"
    write += "print(dumps_event(e))\n"
    text = _python(tmp_path, write)
    read = "import sys\nfrom plait.runtime import loads_event\nimport reports\n"
    read += "out = loads_event(sys.stdin.read()).output\n"
    read += "print(type(out[0]).__name__, type(out[0].details[0]).__name__, out[1])\n"
    assert _python(tmp_path, read, stdin=text).strip() == "Report Detail {'x': 1}"


def _python(cwd: Path, code: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": f"{cwd}:{Path(__file__).parents[2] / 'src'}", "PATH": "/usr/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_dataclass_fields_that_are_not_init_arguments_come_back() -> None:
    @dataclasses.dataclass
    class Counted:
        items: list[int]
        total: int = dataclasses.field(init=False, default=0)

        def __post_init__(self) -> None:
            self.total = sum(self.items)

    value = Counted([1, 2])
    value.total = 99
    back = round_trip(value)
    assert isinstance(back, Counted) and back.total == 99


def test_models_with_aliases_and_enums_round_trip() -> None:
    from pydantic import Field

    class Aliased(BaseModel):
        kind: Colour = Field(alias="type")
        when: Any = None

    value = Aliased(type=Colour.BLUE, when=(1, "x"))
    back = round_trip(value)
    assert back == value and back.kind is Colour.BLUE
