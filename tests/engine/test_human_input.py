"""Human input: a step's ask() stops the run as waiting; respond() answers and resumes it,
in this process or days later in another one."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import pytest
from pydantic import BaseModel, field_validator

import plait
from plait import (
    Flow,
    InputError,
    InputTimeoutError,
    RunError,
    WaitingForInput,
    Workflow,
    and_,
    listen,
    start,
)
from plait.engine import open_store, record_answer
from plait.runtime import InputReceived, InputRequested, RunWaiting
from plait.stores import MemoryStore
from tests.engine._helpers import types


class Approval(BaseModel):
    ok: bool
    note: str = ""


class Review(Flow):
    @start()
    def draft(self) -> str:
        self.state["draft"] = "v1"
        return "v1"

    @listen(draft)
    async def approve(self, draft: str) -> Approval:
        self.state["asked"] = self.state.get("asked", 0) + 1  # undone while it waits
        answer: Approval = await self.ask("Approve this draft?", schema=Approval)
        self.state["approved"] = answer.ok
        return answer

    @listen(approve)
    def publish(self, answer: Approval) -> str:
        return f"published={answer.ok} note={answer.note}"


def _wait(flow: Flow, **options: Any) -> WaitingForInput:
    with pytest.raises(WaitingForInput) as info:
        flow.kickoff(**options)
    return info.value


async def _status_and_count(url: str, run_id: str) -> tuple[str, int]:
    store = await open_store(url)
    try:
        record = await store.get_run(run_id)
        assert record is not None
        return record.status, len(await store.read(run_id))
    finally:
        await store.close()


def test_ask_waits_and_respond_resumes_from_the_store(store_url: str) -> None:
    waiting = _wait(Review(), store=store_url)
    run_id = waiting.run_id
    assert waiting.flow == "Review"
    assert [r["prompt"] for r in waiting.requests] == ["Approve this draft?"]
    assert waiting.requests[0]["schema"]["required"] == ["ok"]
    assert "plait runs respond" in str(waiting)
    assert asyncio.run(_status_and_count(store_url, run_id))[0] == "waiting"

    flow = Review()  # a new object, as a new process would have
    assert flow.respond(run_id, {"ok": True, "note": "fine"}, store=store_url) == (
        "published=True note=fine"
    )
    assert flow.state["approved"] is True
    assert flow.state["asked"] == 1  # the waiting attempt's write was undone
    kinds = types(flow.events)
    assert (
        kinds.index("InputRequested")
        < kinds.index("RunWaiting")
        < kinds.index("InputReceived")
        < kinds.index("RunResumed")
    )
    assert kinds.count("StepCompleted") == 3  # draft ran once, before the wait
    assert asyncio.run(_status_and_count(store_url, run_id))[0] == "completed"


def test_an_answer_that_fails_the_schema_stores_nothing(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    run_id = _wait(Review(), store=url).run_id
    before = asyncio.run(_status_and_count(url, run_id))
    with pytest.raises(InputError, match="'maybe' is not of type 'boolean'"):
        Review().respond(run_id, {"ok": "maybe"}, store=url)
    with pytest.raises(InputError, match="'ok' is a required property"):
        Review().respond(run_id, {"note": "x"}, store=url)
    assert asyncio.run(_status_and_count(url, run_id)) == before == ("waiting", before[1])
    assert Review().respond(run_id, {"ok": False}, store=url) == "published=False note="


def test_respond_to_a_run_that_does_not_wait_is_refused(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    run_id = _wait(Review(), store=url).run_id
    Review().respond(run_id, {"ok": True}, store=url)
    with pytest.raises(RunError, match="not waiting for input: its status is 'completed'"):
        Review().respond(run_id, {"ok": True}, store=url)
    with pytest.raises(RunError, match="no run nope"):
        Review().respond("nope", {"ok": True}, store=url)


def test_resume_without_an_answer_waits_again_and_stores_nothing(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    run_id = _wait(Review(), store=url).run_id
    before = asyncio.run(_status_and_count(url, run_id))
    with pytest.raises(WaitingForInput, match="Approve this draft"):
        Review().resume(run_id, store=url)
    assert asyncio.run(_status_and_count(url, run_id)) == before


def test_answer_now_resume_later(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    run_id = _wait(Review(), store=url).run_id
    assert Review().respond(run_id, {"ok": True}, store=url, resume=False) is None
    assert asyncio.run(_status_and_count(url, run_id))[0] == "waiting"
    assert Review().resume(run_id, store=url) == "published=True note="


def test_two_answers_racing_store_exactly_one(store_url: str) -> None:
    run_id = _wait(Review(), store=store_url).run_id

    async def race() -> list[Any]:
        store = await open_store(store_url)
        try:
            return await asyncio.gather(
                *(
                    Review().respond_async(run_id, {"ok": i % 2 == 0}, store=store, resume=False)
                    for i in range(4)
                ),
                return_exceptions=True,
            )
        finally:
            await store.close()

    results = asyncio.run(race())
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, RunError) for r in results if r is not None)


class Parallel(Flow):
    @start()
    def begin(self) -> str:
        return "go"

    @listen(begin)
    async def human(self, _: str) -> str:
        return str(await self.ask("Your name?", schema=str))

    @listen(begin)
    async def machine(self, _: str) -> str:
        await asyncio.sleep(0.01)
        self.state["machine"] = "done"
        return "m"

    @listen(and_(human, machine))
    def join(self) -> str:
        return f"{self.state['machine']}+{self.state.get('name', '')}"


def test_other_branches_go_on_while_one_waits() -> None:
    store = MemoryStore()
    flow = Parallel()
    waiting = _wait(flow, store=store)
    completed = [e.step for e in flow.events if type(e).__name__ == "StepCompleted"]
    assert completed == ["begin", "machine"]  # the fast branch finished before the wait
    assert isinstance(flow.events[-1], RunWaiting)
    again = Parallel()
    assert again.respond(waiting.run_id, "Ada", store=store) == "done+"
    assert [e.step for e in again.events if type(e).__name__ == "StepStarted"].count(
        "machine"
    ) == 1  # machine did not run again


class TwoQuestions(Flow):
    @start()
    async def interview(self) -> str:
        name = await self.ask("Name?", schema=str)
        age = await self.ask("Age?", schema=int)
        return f"{name}:{age}"


def test_a_step_can_ask_twice_one_wait_each() -> None:
    store = MemoryStore()
    first = _wait(TwoQuestions(), store=store)
    with pytest.raises(WaitingForInput) as second:
        TwoQuestions().respond(first.run_id, "Ada", store=store)
    assert [r["prompt"] for r in second.value.requests] == ["Age?"]
    with pytest.raises(InputError, match="is not of type 'integer'"):
        TwoQuestions().respond(first.run_id, "old", store=store)
    assert TwoQuestions().respond(first.run_id, 36, store=store) == "Ada:36"


class Timed(Flow):
    @start()
    async def confirm(self) -> str:
        go = await self.ask("Deploy?", schema=bool, timeout=0.05, default=False)
        return "deployed" if go else "skipped"


class TimedNoDefault(Flow):
    @start()
    async def confirm(self) -> bool:
        return bool(await self.ask("Deploy?", schema=bool, timeout=0.05))


def test_a_wait_past_its_timeout_answers_the_default(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    waiting = _wait(Timed(), store=url)
    assert waiting.requests[0]["deadline"] > time.time() - 1
    time.sleep(0.1)
    flow = Timed()
    assert flow.resume(waiting.run_id, store=url) == "skipped"
    received = [e for e in flow.events if isinstance(e, InputReceived)]
    assert len(received) == 1 and received[0].timed_out


def test_a_wait_past_its_timeout_without_default_fails_the_step(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    waiting = _wait(TimedNoDefault(), store=url)
    time.sleep(0.1)
    with pytest.raises(InputTimeoutError, match="nobody answered") as info:
        TimedNoDefault().resume(waiting.run_id, store=url)
    assert info.value.step == "confirm"
    assert asyncio.run(_status_and_count(url, waiting.run_id))[0] == "failed"


def test_workflow_tasks_ask_with_plait_ask() -> None:
    wf = Workflow("orders")

    @wf.task()
    def total() -> int:
        return 120

    @wf.task(depends_on=[total])
    async def approve(total: int) -> str:
        if total > 100:
            ok = await plait.ask(f"Approve an order of {total}?", schema=bool)
            return "approved" if ok else "rejected"
        return "auto"

    store = MemoryStore()
    with pytest.raises(WaitingForInput) as info:
        wf.run(store=store)
    assert wf.respond(info.value.run_id, True, store=store) == "approved"


def test_ask_outside_a_step_and_bad_arguments() -> None:
    with pytest.raises(RunError, match="only inside a step"):
        asyncio.run(plait.ask("hi?"))

    class Bad(Flow):
        @start()
        async def s(self) -> Any:
            return await self.ask("", schema=str)

    with pytest.raises(plait.InputError, match="non-empty prompt"):
        Bad().kickoff()


def test_requests_are_recorded_with_their_schema() -> None:
    flow = Review()
    _wait(flow, store=MemoryStore())
    (request,) = [e for e in flow.events if isinstance(e, InputRequested)]
    assert (request.step, request.invocation, request.key) == ("approve", 1, 1)
    assert request.schema["title"] == "Approval"
    assert request.deadline is None and not request.has_default


class Meeting(BaseModel):
    when: datetime.datetime
    room: str

    @field_validator("room")
    @classmethod
    def _known_room(cls, room: str) -> str:
        if room not in {"A", "B"}:
            raise ValueError(f"no room {room!r}; rooms are A and B")
        return room


class Booking(Flow):
    @start()
    async def book(self) -> str:
        meeting: Meeting = await self.ask("When and where?", schema=Meeting)
        return f"{meeting.when:%Y-%m-%d} in {meeting.room}"


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"when": "next tuesday", "room": "A"}, "when"),
        ({"when": "2026-01-02T10:00:00", "room": "Z"}, "no room 'Z'"),
    ],
)
def test_an_answer_the_model_rejects_is_not_stored_when_the_step_is_known(
    tmp_path: Any, bad: dict[str, Any], problem: str
) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    with pytest.raises(WaitingForInput) as info:
        Booking().kickoff(store=url)
    run_id = info.value.run_id
    before = asyncio.run(_status_and_count(url, run_id))

    async def answer(value: Any) -> None:
        store = await open_store(url)
        try:
            await record_answer(store, run_id, "Booking", value, definition=Booking())
        finally:
            await store.close()

    with pytest.raises(InputError, match=problem):
        asyncio.run(answer(bad))
    assert asyncio.run(_status_and_count(url, run_id)) == before
    asyncio.run(answer({"when": "2026-01-02T10:00:00", "room": "B"}))
    assert Booking().resume(run_id, store=url) == "2026-01-02 in B"


def test_a_stored_answer_the_model_rejects_asks_again(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    with pytest.raises(WaitingForInput) as info:
        Booking().kickoff(store=url)
    run_id = info.value.run_id

    async def answer(value: Any) -> None:  # no definition: only the JSON schema is checked
        store = await open_store(url)
        try:
            await record_answer(store, run_id, "Booking", value)
        finally:
            await store.close()

    asyncio.run(answer({"when": "next tuesday", "room": "A"}))
    with pytest.raises(WaitingForInput, match="When and where"):
        Booking().resume(run_id, store=url)
    assert asyncio.run(_status_and_count(url, run_id))[0] == "waiting"
    with pytest.raises(WaitingForInput, match="When and where"):  # resumed again: still asks
        Booking().resume(run_id, store=url)
    assert (
        Booking().respond(run_id, {"when": "2026-01-02T10:00:00", "room": "A"}, store=url)
        == "2026-01-02 in A"
    )
    assert asyncio.run(_status_and_count(url, run_id))[0] == "completed"
