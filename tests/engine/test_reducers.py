"""State keys with a reducer merge what parallel steps assign to them."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel

from plait import Flow, Workflow, listen, reducer, start
from tests.engine._helpers import meet


def test_parallel_steps_merge_a_dict_state_key() -> None:
    barrier = asyncio.Barrier(2)

    class Notes(Flow):
        reducers: ClassVar[dict[str, Any]] = {"notes": operator.add}

        @start()
        async def a(self) -> None:
            await meet(barrier)
            self.state["notes"] = ["a"]

        @start()
        async def b(self) -> None:
            await meet(barrier)
            self.state["notes"] = ["b"]

        @listen(a)
        def more(self) -> None:
            self.state["notes"] = ["more"]

    flow = Notes()
    flow.kickoff({"notes": ["input"]})
    assert sorted(flow.state["notes"]) == ["a", "b", "input", "more"]
    assert flow.state["notes"][0] == "input"


class Tally(BaseModel):
    id: str = ""
    seen: Annotated[list[str], reducer(operator.add)] = []
    total: Annotated[int, reducer(operator.add)] = 0
    last: str = ""


def test_parallel_steps_merge_annotated_model_fields() -> None:
    class Count(Flow[Tally]):
        @start()
        def a(self) -> None:
            self.state.seen = ["a"]
            self.state.total = 2

        @start()
        async def b(self) -> None:
            self.state.seen = ["b"]
            self.state.total = 3

        @listen(b)
        def c(self) -> None:
            self.state.last = "c"

    flow = Count()
    flow.kickoff({"total": 10})
    assert isinstance(flow.state, Tally)
    assert sorted(flow.state.seen) == ["a", "b"]
    assert flow.state.total == 15
    assert flow.state.last == "c"
    merged = [e.changes["total"] for e in flow.state_history if "total" in e.changes]
    assert merged[-1] == 15  # the history records merged values


def test_without_a_reducer_a_later_assignment_replaces() -> None:
    class Plain(Flow):
        @start()
        def a(self) -> None:
            self.state["x"] = [1]

        @listen(a)
        def b(self) -> None:
            self.state["x"] = [2]

    flow = Plain()
    flow.kickoff()
    assert flow.state["x"] == [2]


def test_workflow_reducers() -> None:
    wf = Workflow("w", reducers={"log": operator.add})

    def task(name: str) -> None:
        def fn(**_: object) -> None:
            from plait import context

            context().state["log"] = [name]

        wf.add(fn, name=name)

    task("a")
    task("b")
    wf.run()
    assert sorted(wf.state["log"]) == ["a", "b"]
