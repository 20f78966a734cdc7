"""``kickoff()`` and friends take their options as keyword-only parameters; a name that is
no option is refused before anything runs, with a message that says how to pass it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from plait import Flow, RunError, Workflow, start


class Echo(Flow):
    @start()
    def echo(self) -> Any:
        return self.state.get("text")


def test_a_misspelled_input_says_to_put_it_in_inputs() -> None:
    flow = Echo()
    with pytest.raises(TypeError) as info:
        flow.kickoff(text="x")  # type: ignore[arg-type]
    message = str(info.value)
    assert "Echo.kickoff() got an unexpected keyword argument 'text'" in message
    assert "kickoff(inputs={'text': ...})" in message
    assert "store=" in message and "durability=" in message  # what it does take
    assert list(flow.events) == []  # refused before anything ran
    assert flow.kickoff(inputs={"text": "x"}) == "x"


@pytest.mark.parametrize(
    "call",
    [
        lambda flow: asyncio.run(flow.kickoff_async(text="x")),
        lambda flow: asyncio.run(flow.akickoff(text="x")),
        lambda flow: flow.stream(text="x"),
        lambda flow: flow.resume("some-run", text="x"),
        lambda flow: flow.respond("some-run", "yes", text2="x"),
    ],
    ids=["kickoff_async", "akickoff", "stream", "resume", "respond"],
)
def test_every_way_to_run_refuses_unknown_options(call: Callable[[Flow], Any]) -> None:
    with pytest.raises(TypeError, match="got an unexpected keyword argument"):
        call(Echo())


def test_a_near_miss_is_named_and_crewai_file_inputs_are_explained() -> None:
    with pytest.raises(TypeError, match=r"Did you mean store=\.\.\.\?"):
        Echo().kickoff(stor="sqlite:///x.db")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="plait has no file inputs"):
        Echo().kickoff(input_files={"a": "b"})  # type: ignore[arg-type]


def test_workflow_run_refuses_unknown_options() -> None:
    wf = Workflow("w")
    wf.add(lambda: 1, name="one")
    with pytest.raises(TypeError, match=r"Workflow.run\(\) got an unexpected keyword argument 'x'"):
        wf.run(x=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Workflow\.run_async"):
        asyncio.run(wf.run_async(x=1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Workflow\.resume"):
        wf.resume("r", x=1)
    assert wf.run() == 1


def test_the_options_that_work_today_still_work(tmp_path: Path) -> None:
    seen: list[Any] = []
    url = f"sqlite:///{tmp_path}/runs.db"
    flow = Echo()
    out = flow.kickoff(
        {"text": "hi"}, store=url, run_id="run-1", listeners=[seen.append], durability="async"
    )
    assert out == "hi" and flow.run_id == "run-1" and seen
    assert asyncio.run(Echo().akickoff(inputs={"text": "a"}, store=url)) == "a"
    with pytest.raises(RunError, match="already completed"):  # resume took its options
        Echo().resume("run-1", store=url, durability="async")
