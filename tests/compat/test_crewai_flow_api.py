"""CrewAI's own flow tests, run on plait: the Flow API (errors, state ids, trigger
payloads, ``ask`` and input providers, the constructor, ``akickoff``, stacked routers,
``plot``, ``kickoff`` inside an event loop).

Each test names the CrewAI test it comes from (crewAIInc/crewAI, ``lib/crewai/tests/``),
adapted to import from plait. Where plait differs on purpose, the test says so and checks
what plait does (docs/coming-from-crewai.md lists the differences). Tests without a
CrewAI source check plait's side of a CrewAI behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from plait import (
    ConsoleProvider,
    Flow,
    FlowState,
    InputProvider,
    InputReceived,
    InputResponse,
    Plan,
    StepError,
    StepTimeoutError,
    WaitingForInput,
    listen,
    router,
    start,
)
from plait.stores import MemoryStore


class Log(list[str]):
    """An execution log that steps in threads can append to."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def add(self, item: Any) -> None:
        with self._lock:
            self.append(item)


class MockInputProvider:
    """From test_flow_ask.py: answers from a list, then ``None``."""

    def __init__(self, responses: list[str | None]) -> None:
        self.responses = responses
        self._call_count = 0
        self.messages: list[str] = []
        self.received_metadata: list[dict[str, Any] | None] = []

    def request_input(
        self, message: str, flow: Flow[Any], metadata: dict[str, Any] | None = None
    ) -> str | None:
        self.messages.append(message)
        self.received_metadata.append(metadata)
        if self._call_count >= len(self.responses):
            return None
        response = self.responses[self._call_count]
        self._call_count += 1
        return response


class SlowMockProvider:
    """From test_flow_ask.py: answers after ``delay`` seconds."""

    def __init__(self, delay: float, response: str = "delayed") -> None:
        self.delay = delay
        self.response = response
        self.release = threading.Event()

    def request_input(
        self, message: str, flow: Flow[Any], metadata: dict[str, Any] | None = None
    ) -> str | None:
        self.release.wait(self.delay)  # CrewAI sleeps; an event lets the test end it
        return self.response


# -- S6: kickoff raises the step's own exception ----------------------------------------


def test_flow_with_exceptions() -> None:
    # test_flow.py::test_flow_with_exceptions
    execution_order = Log()

    class ExceptionFlow(Flow):
        @start()
        def step_1(self) -> None:
            execution_order.add("step_1")
            raise ValueError("An error occurred in step_1")

        @listen(step_1)
        def step_2(self) -> None:
            execution_order.add("step_2")

    flow = ExceptionFlow()
    with pytest.raises(ValueError) as info:
        flow.kickoff()
    assert execution_order == ["step_1"]
    # plait adds where it happened as a PEP 678 note.
    (note,) = info.value.__notes__
    assert "'step_1'" in note and "'ExceptionFlow'" in note and flow.run_id in note
    assert "attempt 1" in note
    failed = [e for e in flow.events if type(e).__name__ == "RunFailed"]
    assert "An error occurred in step_1" in failed[0].error


def test_plaits_own_failures_stay_step_errors() -> None:
    class Slow(Flow):
        @start(timeout=0.01)
        async def wait(self) -> None:
            await asyncio.sleep(5)

    with pytest.raises(StepTimeoutError) as info:
        Slow().kickoff()
    assert isinstance(info.value, StepError)


def test_async_kickoff_and_resume_raise_the_steps_exception(tmp_path: Path) -> None:
    broken = {"yes": True}

    class Fragile(Flow):
        @start()
        async def go(self) -> str:
            if broken["yes"]:
                raise KeyError("missing")
            return "ok"

    url = f"sqlite:///{tmp_path}/runs.db"
    flow = Fragile()
    with pytest.raises(KeyError):
        asyncio.run(flow.akickoff(store=url))
    with pytest.raises(KeyError) as info:
        Fragile().resume(flow.run_id, store=url)
    assert len(info.value.__notes__) == 1  # one note per raise, not one per call
    broken["yes"] = False
    assert Fragile().resume(flow.run_id, store=url) == "ok"


# -- S8/S9: every state has an id ----------------------------------------------------------


def test_flow_uuid_unstructured() -> None:
    # test_flow.py::test_flow_uuid_unstructured
    seen: dict[str, Any] = {}

    class UUIDUnstructuredFlow(Flow):
        @start()
        def first_method(self) -> None:
            assert "id" in self.state
            assert isinstance(self.state["id"], str)
            seen["id"] = self.state["id"]
            self.state["data"] = "example"

        @listen(first_method)
        def second_method(self) -> None:
            assert self.state["id"] == seen["id"]
            self.state["more_data"] = "test"
            assert self.state["id"] == seen["id"]

    flow = UUIDUnstructuredFlow()
    flow.kickoff()
    assert flow.state["id"] == seen["id"]
    assert len(flow.state["id"]) == 36


def test_flow_uuid_structured() -> None:
    # test_flow.py::test_flow_uuid_structured
    seen: dict[str, Any] = {}

    class MyStructuredState(BaseModel):
        counter: int = 0
        message: str = "initial"

    class UUIDStructuredFlow(Flow[MyStructuredState]):
        @start()
        def first_method(self) -> None:
            assert hasattr(self.state, "id")
            assert isinstance(self.state.id, str)
            seen["id"] = self.state.id
            self.state.counter += 1
            self.state.message = "updated"

        @listen(first_method)
        def second_method(self) -> None:
            assert self.state.id == seen["id"]
            self.state.counter += 1
            self.state.message = "final"

    flow = UUIDStructuredFlow()
    flow.kickoff()
    assert flow.state.id == seen["id"]
    assert len(flow.state.id) == 36
    assert flow.state.counter == 2
    assert flow.state.message == "final"
    assert isinstance(flow.state, MyStructuredState)


def test_the_id_is_set_when_the_flow_is_made_and_the_first_run_takes_it() -> None:
    class Counter(FlowState):
        count: int = 0

    class Counting(Flow[Counter]):
        @start()
        def go(self) -> str:
            return self.state.id

    flow = Counting()
    made_with = flow.state.id
    uuid.UUID(made_with)
    assert flow.flow_id == made_with
    assert flow.kickoff() == made_with == flow.run_id == flow.flow_id
    # Each run is stored under its own id: a second run of the instance gets a new one.
    second = flow.kickoff()
    assert second == flow.run_id == flow.state.id != made_with
    # inputs={"id": ...} names the run, as it names CrewAI's state.
    assert Counting().kickoff({"id": "mine"}) == "mine"


def test_an_id_already_stored_is_refused_with_the_way_to_go_on() -> None:
    class Once(Flow):
        @start()
        def go(self) -> int:
            return 1

    store = MemoryStore()
    flow = Once()
    flow.kickoff({"id": "run-1"}, store=store)
    with pytest.raises(Exception, match=r"already in this store.*resume\('run-1'\)"):
        Once().kickoff({"id": "run-1"}, store=store)


# -- S10/S11: the trigger payload and unknown inputs ------------------------------------


def test_flow_trigger_payload_injection() -> None:
    # test_flow.py::test_flow_trigger_payload_injection
    captured_payload = Log()

    class TriggerFlow(Flow):
        @start()
        def start_method(self, crewai_trigger_payload: Any = None) -> str:
            captured_payload.add(crewai_trigger_payload)
            return "started"

        @listen(start_method)
        def second_method(self) -> str:
            captured_payload.add("no_parameter")
            return "finished"

    test_payload = "This is important trigger data"
    TriggerFlow().kickoff(inputs={"crewai_trigger_payload": test_payload})
    assert captured_payload == [test_payload, "no_parameter"]


def test_flow_trigger_payload_injection_multiple_starts() -> None:
    # test_flow.py::test_flow_trigger_payload_injection_multiple_starts
    captured_payloads = Log()

    class MultiStartFlow(Flow):
        @start()
        def start_method_1(self, crewai_trigger_payload: Any = None) -> str:
            captured_payloads.add(("start_1", crewai_trigger_payload))
            return "start_1_done"

        @start()
        def start_method_2(self, crewai_trigger_payload: Any = None) -> str:
            captured_payloads.add(("start_2", crewai_trigger_payload))
            return "start_2_done"

    test_payload = "Multiple start trigger data"
    MultiStartFlow().kickoff(inputs={"crewai_trigger_payload": test_payload})
    # plait runs start steps concurrently (in threads): compare without the order.
    assert sorted(captured_payloads) == [("start_1", test_payload), ("start_2", test_payload)]


def test_flow_without_trigger_payload() -> None:
    # test_flow.py::test_flow_without_trigger_payload
    captured_payload = Log()

    class NormalFlow(Flow):
        @start()
        def start_method(self, crewai_trigger_payload: Any = None) -> str:
            captured_payload.add(crewai_trigger_payload)
            return "no_trigger"

    NormalFlow().kickoff(inputs={"other_data": "some value"})
    assert captured_payload[0] is None


def test_flow_trigger_payload_with_structured_state() -> None:
    # test_flow.py::test_flow_trigger_payload_with_structured_state
    class TriggerState(BaseModel):
        id: str = "test"
        message: str = ""

    class StructuredFlow(Flow[TriggerState]):
        @start()
        def start_method(self, crewai_trigger_payload: Any = None) -> Any:
            return crewai_trigger_payload

    test_payload = "Structured state trigger data"
    result = StructuredFlow().kickoff(inputs={"crewai_trigger_payload": test_payload})
    assert result == test_payload


def test_flow_start_method_without_trigger_parameter() -> None:
    # test_flow.py::test_flow_start_method_without_trigger_parameter
    execution_order = Log()

    class FlowWithoutParameter(Flow):
        @start()
        def start_without_param(self) -> str:
            execution_order.add("start_executed")
            return "started"

        @listen(start_without_param)
        def second_method(self) -> str:
            execution_order.add("second_executed")
            return "finished"

    result = FlowWithoutParameter().kickoff(inputs={"crewai_trigger_payload": "some data"})
    assert execution_order == ["start_executed", "second_executed"]
    assert result == "finished"


def test_async_flow_with_trigger_payload() -> None:
    # test_flow.py::test_async_flow_with_trigger_payload
    captured_payload = Log()

    class AsyncTriggerFlow(Flow):
        @start()
        async def async_start_method(self, crewai_trigger_payload: Any = None) -> str:
            captured_payload.add(crewai_trigger_payload)
            await asyncio.sleep(0.01)
            return "async_started"

        @listen(async_start_method)
        async def async_second_method(self, result: str) -> str:
            captured_payload.add(result)
            await asyncio.sleep(0.01)
            return "async_finished"

    test_payload = "Async trigger data"
    result = asyncio.run(
        AsyncTriggerFlow().kickoff_async(inputs={"crewai_trigger_payload": test_payload})
    )
    assert captured_payload == [test_payload, "async_started"]
    assert result == "async_finished"


def test_the_trigger_payload_reaches_a_resumed_start_step(tmp_path: Path) -> None:
    seen = Log()
    broken = {"yes": True}

    class Resumable(Flow):
        @start()
        def begin(self, crewai_trigger_payload: Any = None) -> str:
            seen.add(crewai_trigger_payload)
            if broken["yes"]:
                raise RuntimeError("not yet")
            return "done"

    url = f"sqlite:///{tmp_path}/runs.db"
    flow = Resumable()
    with pytest.raises(RuntimeError):
        flow.kickoff({"crewai_trigger_payload": {"n": 1}}, store=url)
    broken["yes"] = False
    assert Resumable().resume(flow.run_id, store=url) == "done"
    assert seen == [{"n": 1}, {"n": 1}]


def test_unknown_inputs_with_a_model_state_are_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Topic(BaseModel):
        topic: str = "AI"

    class Research(Flow[Topic]):
        @start()
        def go(self) -> str:
            return self.state.topic

    with caplog.at_level(logging.WARNING, logger="plait"):
        assert Research().kickoff({"topc": "flows", "crewai_trigger_payload": "x"}) == "AI"
    assert "'topc' (did you mean 'topic'?)" in caplog.text
    assert "crewai_trigger_payload" not in caplog.text  # expected, not a typo


# -- S12: ask() and input providers -------------------------------------------------------


def test_ask_returns_user_input() -> None:
    # test_flow_ask.py::TestAskBasic::test_ask_returns_user_input
    class TestFlow(Flow):
        input_provider = MockInputProvider(["hello"])

        @start()
        def my_method(self) -> Any:
            return self.ask("Say something:")

    assert TestFlow().kickoff() == "hello"


def test_ask_in_async_method() -> None:
    # test_flow_ask.py::TestAskBasic::test_ask_in_async_method — plait differs: in an
    # async def step, ask() is awaited (CrewAI's blocks the event loop).
    class TestFlow(Flow):
        input_provider = MockInputProvider(["async hello"])

        @start()
        async def my_method(self) -> Any:
            return await self.ask("Say something:")

    assert TestFlow().kickoff() == "async hello"


def test_ask_in_async_method_without_await_says_how_to_fix_it() -> None:
    class TestFlow(Flow):
        input_provider = MockInputProvider(["AI"])

        @start()
        async def gather(self) -> str:
            topic = self.ask("Topic?")
            return f"researching {topic}"

    with pytest.raises(TypeError, match=r"await self\.ask"):
        TestFlow().kickoff()


def test_ask_loop_without_await_in_an_async_step_fails_instead_of_spinning() -> None:
    class TestFlow(Flow):
        input_provider = MockInputProvider(["hello", None])

        @start()
        async def chat(self) -> int:
            count = 0
            while self.ask("You:") is not None:
                count += 1
            return count

    with pytest.raises(TypeError, match="again before awaiting"):
        TestFlow().kickoff()


def test_ask_in_start_method() -> None:
    # test_flow_ask.py::TestAskBasic::test_ask_in_start_method
    execution_log = Log()

    class TestFlow(Flow):
        input_provider = MockInputProvider(["AI"])

        @start()
        def gather(self) -> Any:
            topic = self.ask("Topic?")
            execution_log.add(f"got:{topic}")
            return topic

    assert TestFlow().kickoff() == "AI"
    assert execution_log == ["got:AI"]


def test_ask_in_listen_method() -> None:
    # test_flow_ask.py::TestAskBasic::test_ask_in_listen_method
    class TestFlow(Flow):
        input_provider = MockInputProvider(["detailed"])

        @start()
        def step1(self) -> str:
            return "topic"

        @listen("step1")
        def step2(self) -> str:
            depth = self.ask("How deep?")
            return f"researching at {depth} level"

    assert TestFlow().kickoff() == "researching at detailed level"


def test_ask_multiple_calls() -> None:
    # test_flow_ask.py::TestAskBasic::test_ask_multiple_calls
    class TestFlow(Flow):
        input_provider = MockInputProvider(["AI", "detailed", "english"])

        @start()
        def gather(self) -> dict[str, Any]:
            topic = self.ask("Topic?")
            depth = self.ask("Depth?")
            lang = self.ask("Language?")
            return {"topic": topic, "depth": depth, "lang": lang}

    result = TestFlow().kickoff()
    assert result == {"topic": "AI", "depth": "detailed", "lang": "english"}


def test_ask_conditional() -> None:
    # test_flow_ask.py::TestAskBasic::test_ask_conditional
    class TestFlow(Flow):
        input_provider = MockInputProvider(["AI", "LLMs"])

        @start()
        def gather(self) -> dict[str, Any]:
            topic = self.ask("Topic?")
            focus = self.ask("Specific area?") if topic == "AI" else "general"
            return {"topic": topic, "focus": focus}

    assert TestFlow().kickoff() == {"topic": "AI", "focus": "LLMs"}


def test_ask_returns_empty_string_on_enter() -> None:
    # test_flow_ask.py::TestAskBasic::test_ask_returns_empty_string_on_enter
    class TestFlow(Flow):
        input_provider = MockInputProvider([""])

        @start()
        def my_method(self) -> Any:
            return self.ask("Optional input:")

    result = TestFlow().kickoff()
    assert result == ""
    assert result is not None


def test_ask_timeout_returns_none() -> None:
    # test_flow_ask.py::TestAskTimeout::test_ask_timeout_returns_none
    provider = SlowMockProvider(delay=5.0)

    class TestFlow(Flow):
        input_provider = provider

        @start()
        def my_method(self) -> Any:
            return self.ask("Question?", timeout=0.1)

    t0 = time.perf_counter()
    assert TestFlow().kickoff() is None
    assert time.perf_counter() - t0 < 4
    provider.release.set()


def test_ask_timeout_in_async_method() -> None:
    # test_flow_ask.py::TestAskTimeout::test_ask_timeout_in_async_method (with await)
    provider = SlowMockProvider(delay=5.0)

    class TestFlow(Flow):
        input_provider = provider

        @start()
        async def my_method(self) -> Any:
            return await self.ask("Question?", timeout=0.1)

    assert TestFlow().kickoff() is None
    provider.release.set()


def test_ask_loop_with_timeout_termination() -> None:
    # test_flow_ask.py::TestAskTimeout::test_ask_loop_with_timeout_termination
    messages_received = Log()

    class TestFlow(Flow):
        input_provider = MockInputProvider(["hello", "world", None])

        @start()
        def chat(self) -> int:
            while (msg := self.ask("You:")) is not None:
                messages_received.add(msg)
            return len(messages_received)

    assert TestFlow().kickoff() == 2
    assert messages_received == ["hello", "world"]


def test_ask_uses_flow_level_provider() -> None:
    # test_flow_ask.py::TestProviderResolution::test_ask_uses_flow_level_provider
    provider = MockInputProvider(["from flow"])

    class TestFlow(Flow):
        input_provider = provider

        @start()
        def my_method(self) -> Any:
            return self.ask("Q?")

    TestFlow().kickoff()
    assert provider.messages == ["Q?"]


def test_ask_uses_global_config_provider() -> None:
    # test_flow_ask.py::TestProviderResolution::test_ask_uses_global_config_provider —
    # plait has no flow_config: Flow.input_provider is the default for every flow.
    provider = MockInputProvider(["from config"])
    original = Flow.input_provider
    try:
        Flow.input_provider = provider

        class TestFlow(Flow):
            @start()
            def my_method(self) -> Any:
                return self.ask("Q?")

        assert TestFlow().kickoff() == "from config"
        assert provider.messages == ["Q?"]
    finally:
        Flow.input_provider = original


def test_flow_provider_overrides_global() -> None:
    # test_flow_ask.py::TestProviderResolution::test_flow_provider_overrides_global
    flow_provider = MockInputProvider(["from flow"])
    global_provider = MockInputProvider(["from global"])
    original = Flow.input_provider
    try:
        Flow.input_provider = global_provider

        class TestFlow(Flow):
            input_provider = flow_provider

            @start()
            def my_method(self) -> Any:
                return self.ask("Q?")

        assert TestFlow().kickoff() == "from flow"
        assert flow_provider.messages == ["Q?"]
        assert global_provider.messages == []
    finally:
        Flow.input_provider = original


def test_a_provider_given_to_the_constructor() -> None:
    provider = MockInputProvider(["per instance"])

    class TestFlow(Flow):
        @start()
        def my_method(self) -> Any:
            return self.ask("Q?")

    assert TestFlow(input_provider=provider).kickoff() == "per instance"


def test_without_a_provider_ask_waits_durably_and_respond_resumes() -> None:
    # test_flow_ask.py::TestProviderResolution::test_ask_defaults_to_console_provider —
    # plait differs: with no provider the run waits for respond() (a console is opt-in:
    # input_provider = ConsoleProvider()).
    class TestFlow(Flow):
        @start()
        def my_method(self) -> str:
            name = self.ask("Name?", schema=str)
            return f"hi {name}"

    store = MemoryStore()
    flow = TestFlow()
    with pytest.raises(WaitingForInput) as info:
        flow.kickoff(store=store)
    assert info.value.requests[0]["prompt"] == "Name?"
    assert TestFlow().respond(flow.run_id, "ann", store=store) == "hi ann"


def test_a_providers_answer_is_recorded_and_not_asked_again_on_resume(tmp_path: Path) -> None:
    # From test_flow_ask.py::TestAskEvents::test_ask_emits_input_received_event: plait
    # records the answer in the run as an InputReceived event.
    provider = MockInputProvider(["first", "second"])
    broken = {"yes": True}

    class TestFlow(Flow):
        input_provider = provider

        @start()
        def my_method(self) -> Any:
            answer = self.ask("Question?")
            if broken["yes"]:
                raise RuntimeError("crash after asking")
            return answer

    url = f"sqlite:///{tmp_path}/runs.db"
    flow = TestFlow()
    with pytest.raises(RuntimeError):
        flow.kickoff(store=url)
    (received,) = [e for e in flow.events if isinstance(e, InputReceived)]
    assert (received.step, received.value) == ("my_method", "first")
    broken["yes"] = False
    assert TestFlow().resume(flow.run_id, store=url) == "first"
    assert provider.messages == ["Question?"]


def test_a_providers_answer_fits_the_schema() -> None:
    class TestFlow(Flow):
        input_provider = MockInputProvider(["3", "true"])

        @start()
        def my_method(self) -> tuple[int, bool]:
            return self.ask("How many?", schema=int), self.ask("Sure?", schema=bool)

    assert TestFlow().kickoff() == (3, True)


def test_ask_returns_none_on_provider_error() -> None:
    # test_flow_ask.py::TestAskErrorHandling::test_ask_returns_none_on_provider_error
    class FailingProvider:
        def request_input(self, message: str, flow: Flow[Any]) -> str | None:
            raise RuntimeError("Provider failed")

    class TestFlow(Flow):
        input_provider = FailingProvider()

        @start()
        def my_method(self) -> Any:
            return self.ask("Question?")

    assert TestFlow().kickoff() is None


def test_ask_in_async_method_returns_none_on_provider_error() -> None:
    # test_flow_ask.py::TestAskErrorHandling::
    #     test_ask_in_async_method_returns_none_on_provider_error (with await)
    class FailingProvider:
        def request_input(self, message: str, flow: Flow[Any]) -> str | None:
            raise RuntimeError("Provider failed")

    class TestFlow(Flow):
        input_provider = FailingProvider()

        @start()
        async def my_method(self) -> Any:
            return await self.ask("Question?")

    assert TestFlow().kickoff() is None


def test_ask_passes_metadata_to_provider() -> None:
    # test_flow_ask.py::TestAskMetadata::test_ask_passes_metadata_to_provider
    provider = MockInputProvider(["answer"])

    class TestFlow(Flow):
        input_provider = provider

        @start()
        def my_method(self) -> Any:
            return self.ask("Q?", metadata={"user_id": "u123"})

    TestFlow().kickoff()
    assert provider.received_metadata == [{"user_id": "u123"}]


def test_ask_metadata_none_by_default() -> None:
    # test_flow_ask.py::TestAskMetadata::test_ask_metadata_none_by_default
    provider = MockInputProvider(["answer"])

    class TestFlow(Flow):
        input_provider = provider

        @start()
        def my_method(self) -> Any:
            return self.ask("Q?")

    TestFlow().kickoff()
    assert provider.received_metadata == [None]


def test_ask_provider_returns_input_response() -> None:
    # test_flow_ask.py::TestAskMetadata::test_ask_provider_returns_input_response (plait
    # keeps no _input_history: the answer is in the run's InputReceived event)
    class MetadataProvider:
        def request_input(
            self, message: str, flow: Flow[Any], metadata: dict[str, Any] | None = None
        ) -> InputResponse:
            return InputResponse(text="the answer", metadata={"responded_by": "u456"})

    class TestFlow(Flow):
        input_provider = MetadataProvider()

        @start()
        def my_method(self) -> Any:
            return self.ask("Q?", metadata={"user_id": "u123"})

    flow = TestFlow()
    assert flow.kickoff() == "the answer"
    assert [e.value for e in flow.events if isinstance(e, InputReceived)] == ["the answer"]


def test_ask_input_response_with_none_text() -> None:
    # test_flow_ask.py::TestAskMetadata::test_ask_input_response_with_none_text
    class NoneTextProvider:
        def request_input(
            self, message: str, flow: Flow[Any], metadata: dict[str, Any] | None = None
        ) -> InputResponse:
            return InputResponse(text=None, metadata={"reason": "user_declined"})

    class TestFlow(Flow):
        input_provider = NoneTextProvider()

        @start()
        def my_method(self) -> Any:
            return self.ask("Q?")

    assert TestFlow().kickoff() is None


def test_providers_satisfy_the_protocol() -> None:
    # test_flow_ask.py::TestInputProviderProtocol (both tests) and
    # TestConsoleProviderInput::test_console_provider_implements_protocol
    class MyProvider:
        def request_input(self, message: str, flow: Flow[Any]) -> str | None:
            return "custom"

    assert isinstance(MyProvider(), InputProvider)
    assert isinstance(MockInputProvider(["test"]), InputProvider)
    assert isinstance(ConsoleProvider(), InputProvider)


def test_console_provider_strips_response(monkeypatch: pytest.MonkeyPatch) -> None:
    # test_flow_ask.py::TestConsoleProviderInput::test_console_provider_strips_response
    monkeypatch.setattr("builtins.input", lambda prompt="": "  padded answer  ")

    class TestFlow(Flow):
        input_provider = ConsoleProvider()

        @start()
        def my_method(self) -> Any:
            return self.ask("Q?")

    assert TestFlow().kickoff() == "padded answer"


def test_ask_works_with_listen_chain() -> None:
    # test_flow_ask.py::TestAskIntegration::test_ask_works_with_listen_chain
    execution_log = Log()

    class TestFlow(Flow):
        input_provider = MockInputProvider(["AI agents"])

        @start()
        def gather(self) -> Any:
            topic = self.ask("Topic?")
            execution_log.add(f"gathered:{topic}")
            return topic

        @listen("gather")
        def process(self) -> str:
            execution_log.add("processing")
            return "processed"

    TestFlow().kickoff()
    assert execution_log == ["gathered:AI agents", "processing"]


def test_ask_with_structured_state() -> None:
    # test_flow_ask.py::TestAskIntegration::test_ask_with_structured_state
    class ResearchState(FlowState):
        topic: str = ""
        depth: str = ""

    class TestFlow(Flow[ResearchState]):
        initial_state = ResearchState
        input_provider = MockInputProvider(["AI", "detailed"])

        @start()
        def gather(self) -> dict[str, str]:
            self.state.topic = self.ask("Topic?")
            self.state.depth = self.ask("Depth?")
            return {"topic": self.state.topic, "depth": self.state.depth}

    flow = TestFlow()
    assert flow.kickoff() == {"topic": "AI", "depth": "detailed"}
    assert flow.state.topic == "AI"
    assert flow.state.depth == "detailed"


# -- the constructor and state set in __init__ ---------------------------------------------


def test_flow_with_custom_state() -> None:
    # test_flow.py::test_flow_with_custom_state
    class StateFlow(Flow):
        def __init__(self) -> None:
            super().__init__()
            self.counter = 0

        @start()
        def step_1(self) -> None:
            self.counter += 1

        @listen(step_1)
        def step_2(self) -> None:
            self.counter *= 2
            assert self.counter == 2

    flow = StateFlow()
    flow.kickoff()
    assert flow.counter == 2


def test_initial_state_given_to_the_constructor() -> None:
    # From test_flow.py::test_flow_copy_state_without_unpickleable_objects: the
    # constructor's initial_state, changed before the run.
    class NormalState(BaseModel):
        counter: int = 0
        data: str = ""
        nested: dict[str, str] = {}

    class NormalFlow(Flow[NormalState]):
        @start()
        def step_1(self) -> tuple[int, str, str]:
            return self.state.counter, self.state.data, self.state.nested["key"]

    flow = NormalFlow(initial_state=NormalState())
    flow.state.counter = 10
    flow.state.data = "modified"
    flow.state.nested["key"] = "modified"
    assert flow.kickoff() == (10, "modified", "modified")
    assert "initial_state" not in flow.state.model_dump()


def test_initial_state_given_to_the_constructor_of_a_dict_flow_makes_it_a_model_flow() -> None:
    class Settings(BaseModel):
        model: str = "gpt"

    class Plain(Flow):
        @start()
        def go(self) -> Any:
            return self.state

    flow = Plain(initial_state=Settings(model="local"))
    out = flow.kickoff()
    assert isinstance(out, Settings) and out.model == "local" and out.id == flow.run_id
    other = Plain()  # the class keeps dict state
    assert other.kickoff() == {"id": other.run_id}


def test_state_set_in_init_is_the_runs_state() -> None:
    class Draft(BaseModel):
        words: int = 0

    class Writer(Flow):
        def __init__(self) -> None:
            super().__init__()
            self.state = Draft(words=3)

        @start()
        def write(self) -> int:
            self.state.words += 1
            return self.state.words

    flow = Writer()
    assert flow.kickoff() == 4
    assert isinstance(flow.state, Draft) and flow.state.id == flow.run_id


def test_constructor_keywords_are_options_and_declared_fields_not_state(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Configured(Flow):
        model: str = "gpt"

        @start()
        def go(self) -> tuple[str, dict[str, Any]]:
            return self.model, dict(self.state)

    with caplog.at_level(logging.WARNING, logger="plait"):
        flow = Configured(model="local", tracing=True, modle="x")
    out = flow.kickoff()
    assert out == ("local", {"id": flow.run_id})
    assert "tracing" in caplog.text
    assert "modle" in caplog.text and "did you mean 'model'" in caplog.text
    with pytest.raises(TypeError, match="name = 'Other'"):
        Configured(name="Other")
    assert Configured(name="Configured").name == "Configured"


def test_flow_name() -> None:
    # test_flow.py::test_flow_name (a step named start shadows nothing)
    class MyFlow(Flow):
        name = "MyFlow"

        @start()
        def start(self) -> str:
            return "Hello, world!"

    flow = MyFlow()
    assert flow.name == "MyFlow"
    assert flow.kickoff() == "Hello, world!"


# -- akickoff ------------------------------------------------------------------------------


def test_akickoff_basic() -> None:
    # test_flow.py::TestFlowAkickoff::test_akickoff_basic
    execution_order = Log()

    class SimpleFlow(Flow):
        @start()
        def step_1(self) -> str:
            execution_order.add("step_1")
            return "step_1_result"

        @listen(step_1)
        def step_2(self, result: str) -> str:
            execution_order.add("step_2")
            return "final_result"

    result = asyncio.run(SimpleFlow().akickoff())
    assert execution_order == ["step_1", "step_2"]
    assert result == "final_result"


def test_akickoff_with_inputs() -> None:
    # test_flow.py::TestFlowAkickoff::test_akickoff_with_inputs
    class InputFlow(Flow):
        @start()
        def process_input(self) -> Any:
            return self.state.get("value", "default")

    assert asyncio.run(InputFlow().akickoff(inputs={"value": "custom_value"})) == "custom_value"


def test_akickoff_with_async_methods() -> None:
    # test_flow.py::TestFlowAkickoff::test_akickoff_with_async_methods
    execution_order = Log()

    class AsyncMethodFlow(Flow):
        @start()
        async def async_step_1(self) -> str:
            execution_order.add("async_step_1")
            await asyncio.sleep(0.01)
            return "async_result"

        @listen(async_step_1)
        async def async_step_2(self, result: str) -> str:
            execution_order.add("async_step_2")
            await asyncio.sleep(0.01)
            return f"final_{result}"

    result = asyncio.run(AsyncMethodFlow().akickoff())
    assert execution_order == ["async_step_1", "async_step_2"]
    assert result == "final_async_result"


def test_akickoff_equivalent_to_kickoff_async() -> None:
    # test_flow.py::TestFlowAkickoff::test_akickoff_equivalent_to_kickoff_async
    execution_order_akickoff = Log()
    execution_order_kickoff_async = Log()

    class TestFlow(Flow):
        def __init__(self, execution_list: Log) -> None:
            super().__init__()
            self._execution_list = execution_list

        @start()
        def step_1(self) -> str:
            self._execution_list.add("step_1")
            return "result_1"

        @listen(step_1)
        def step_2(self, result: str) -> str:
            self._execution_list.add("step_2")
            return "result_2"

    async def both() -> tuple[Any, Any]:
        result1 = await TestFlow(execution_order_akickoff).akickoff()
        result2 = await TestFlow(execution_order_kickoff_async).kickoff_async()
        return result1, result2

    result1, result2 = asyncio.run(both())
    assert execution_order_akickoff == execution_order_kickoff_async
    assert result1 == result2


def test_akickoff_with_multiple_starts() -> None:
    # test_flow.py::TestFlowAkickoff::test_akickoff_with_multiple_starts
    execution_order = Log()

    class MultiStartFlow(Flow):
        @start()
        def start_a(self) -> None:
            execution_order.add("start_a")

        @start()
        def start_b(self) -> None:
            execution_order.add("start_b")

    asyncio.run(MultiStartFlow().akickoff())
    assert "start_a" in execution_order
    assert "start_b" in execution_order


def test_akickoff_with_router() -> None:
    # test_flow.py::TestFlowAkickoff::test_akickoff_with_router
    execution_order = Log()

    class RouterFlow(Flow):
        @start()
        def begin(self) -> str:
            execution_order.add("begin")
            return "data"

        @router(begin)
        def route(self, data: str) -> str:
            execution_order.add("route")
            return "PATH_A"

        @listen("PATH_A")
        def handle_path_a(self) -> str:
            execution_order.add("path_a")
            return "path_a_result"

    result = asyncio.run(RouterFlow().akickoff())
    assert execution_order == ["begin", "route", "path_a"]
    assert result == "path_a_result"


# -- @router() stacked under @start() / @listen() -----------------------------------------


def test_start_router_runtime_routes_public_dsl_return_value() -> None:
    # test_flow.py::test_start_router_runtime_routes_public_dsl_return_value
    execution_order = Log()

    class StartRouterFlow(Flow):
        @start()
        @router(emit=["continue"])
        def decide(self) -> str:
            execution_order.add("decide")
            return "continue"

        @listen("continue")
        def handle_continue(self, result: str) -> str:
            execution_order.add(f"handle_continue:{result}")
            return "done"

    assert StartRouterFlow().kickoff() == "done"
    assert execution_order == ["decide", "handle_continue:continue"]


def test_start_router_runtime_chains_to_stacked_listener_router() -> None:
    # test_flow.py::test_start_router_runtime_chains_to_stacked_listener_router
    execution_order = Log()

    class ChainedStartRouterFlow(Flow):
        @start()
        @router(emit=["approved", "not_approved"])
        def first_router(self) -> str:
            execution_order.add("first_router")
            return "approved"

        @listen("approved")
        @router(emit=["second_approval", "not_approved"])
        def second_router(self) -> str:
            execution_order.add("second_router")
            return "second_approval"

        @listen("second_approval")
        def handle_second_approval(self, result: str) -> str:
            execution_order.add(f"handle_second_approval:{result}")
            return "done"

        @listen("not_approved")
        def rejected(self) -> str:  # plait warns about labels nobody listens to
            return "rejected"

    assert ChainedStartRouterFlow().kickoff() == "done"
    assert execution_order == [
        "first_router",
        "second_router",
        "handle_second_approval:second_approval",
    ]


# -- method_outputs, flow_definition, plot -------------------------------------------------


def test_method_outputs_in_the_order_steps_completed() -> None:
    class Chain(Flow):
        @start()
        def one(self) -> int:
            return 1

        @listen(one)
        def two(self, x: int) -> int:
            return x + 1

    flow = Chain()
    assert flow.kickoff() == 2
    assert flow.method_outputs == [1, 2]


def test_flow_definition_is_the_plan() -> None:
    class Chain(Flow):
        @start()
        @router(emit=["left", "right"])
        def pick(self) -> str:
            return "left"

        @listen("left")
        def left(self) -> str:
            return "l"

        @listen("right")
        def right(self) -> str:
            return "r"

    definition = Chain.flow_definition()
    assert isinstance(definition, Plan)
    steps = {s.name: s for s in definition.steps}
    assert steps["pick"].start and steps["pick"].kind == "router"
    assert steps["pick"].labels == ("left", "right")


def test_visualization_plot_method(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # test_flow_visualization.py::test_visualization_plot_method and
    # test_flow.py::test_flow_plotting (plait emits no FlowPlotEvent)
    monkeypatch.chdir(tmp_path)

    class SimpleFlow(Flow):
        @start()
        def begin(self) -> str:
            return "started"

        @listen(begin)
        def process(self) -> str:
            return "processed"

    flow = SimpleFlow()
    html_file = flow.plot("test_plot.html", show=False)
    assert os.path.exists(html_file) and os.path.isabs(html_file)
    assert "begin" in Path(html_file).read_text()
    assert flow.plot("test_flow", show=False).endswith("test_flow.html")
    assert flow.plot().startswith("flowchart")  # no file name: Mermaid text, as before


# -- kickoff inside a running event loop ------------------------------------------------


def test_kickoff_inside_a_running_event_loop_runs_on_a_worker_thread() -> None:
    # CrewAI's Flow.kickoff: "asyncio.get_running_loop() ... pool.submit(asyncio.run, ...)"
    class Hello(Flow):
        @start()
        async def greet(self) -> str:
            await asyncio.sleep(0)
            return threading.current_thread().name

    async def in_a_web_app() -> str:
        return Hello().kickoff()  # blocking, as in CrewAI: no await

    ran_on = asyncio.run(in_a_web_app())
    assert ran_on != threading.current_thread().name


def test_a_step_failure_inside_a_running_loop_still_raises_the_steps_exception() -> None:
    class Boom(Flow):
        @start()
        def go(self) -> None:
            raise ValueError("kaboom")

    async def main() -> None:
        Boom().kickoff()

    with pytest.raises(ValueError, match="kaboom"):
        asyncio.run(main())
