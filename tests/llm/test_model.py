"""``Model`` with a scripted provider: calls, recording in runs, structured output with
repairs, retries, streaming, limits — exact and fast."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import BaseModel

from plait import Flow, ModelError, ModelOutputError, RetryPolicy, start
from plait.llm import Limits, Model, ProviderFailure, Response, ScriptedProvider, Usage, cost
from plait.llm._model import MODEL_RETRY
from plait.runtime import ModelCalled, TokenStreamed


def scripted(*script: Any, **options: Any) -> Model:
    return Model("test-model", provider=ScriptedProvider(script, **options))


def test_complete_outside_a_run() -> None:
    model = scripted("hello there")
    response = asyncio.run(model.complete("Say hello", system="Be brief."))
    assert response.text == "hello there"
    assert (response.provider, response.model) == ("scripted", "test-model")
    request = model.provider.requests[0]  # type: ignore[attr-defined]
    assert [m.role for m in request.messages] == ["system", "user"]
    assert response.usage.output_tokens == 2


class Person(BaseModel):
    name: str
    age: int


def test_structured_output_is_validated_and_repaired() -> None:
    model = scripted('{"name": "Ada"}', '```json\n{"name": "Ada", "age": 36}\n```')
    person = asyncio.run(model.structured("Who?", Person))
    assert person == Person(name="Ada", age=36)
    repair = model.provider.requests[1].messages[-1].content  # type: ignore[attr-defined]
    assert "age: Field required" in repair and '"required"' in repair
    assert model.provider.requests[0].json_schema["title"] == "Person"  # type: ignore[attr-defined]


def test_structured_output_that_never_fits_fails_clearly() -> None:
    model = scripted("not json", "still not", "nope")
    with pytest.raises(ModelOutputError, match=r"did not fit Person after 2 repair tries") as info:
        asyncio.run(model.structured("Who?", Person))
    assert (info.value.provider, info.value.model) == ("scripted", "test-model")


def test_retryable_failures_are_retried_then_given_up() -> None:
    model = scripted(ProviderFailure("429 slow down", retryable=True, retry_after=0.01), "ok")
    assert asyncio.run(model.complete("hi")).text == "ok"
    failing = scripted(*[ProviderFailure("503", retryable=True, retry_after=0.0)] * 3)
    failing.retry = RetryPolicy(attempts=3, backoff=0.0)
    with pytest.raises(ModelError, match="failed after 3 tries: 503"):
        asyncio.run(failing.complete("hi"))
    fatal = scripted(ProviderFailure("401 bad key"), "never")
    with pytest.raises(ModelError, match="failed: 401 bad key"):
        asyncio.run(fatal.complete("hi"))
    assert len(fatal.provider.requests) == 1  # type: ignore[attr-defined]


def test_retry_n_means_n_tries_as_on_a_step() -> None:
    """``Model(retry=N)`` reads as a step's ``retry=N``: N tries in all, first included."""
    for n in (1, 3):
        step_tries: list[int] = []

        class Flaky(Flow):
            @start(retry=RetryPolicy(attempts=n, backoff=0.0))
            def work(self, tries: list[int] = step_tries) -> None:
                tries.append(1)
                raise RuntimeError("down")

        with pytest.raises(RuntimeError, match="down"):
            Flaky().kickoff()
        failures = [ProviderFailure("503", retryable=True, retry_after=0.0)] * (n + 1)
        model = Model("m", provider=ScriptedProvider(failures), retry=n)
        assert model.retry.attempts == n
        with pytest.raises(ModelError, match="503"):
            asyncio.run(model.complete("hi"))
        assert len(model.provider.requests) == len(step_tries) == n  # type: ignore[attr-defined]
    assert scripted("x").retry == MODEL_RETRY and MODEL_RETRY.attempts == 5
    with pytest.raises(ModelError, match="RetryPolicy or a number of tries"):
        Model("m", provider=ScriptedProvider(), retry="3")  # type: ignore[arg-type]


def test_a_model_waits_as_its_retry_policy_says() -> None:
    """Without a Retry-After the wait is the policy's ``delay``; ``retry_on`` narrows
    which failures are retried."""
    slow = RetryPolicy(attempts=2, backoff=0.2, jitter=0.0)
    model = Model(
        "m", provider=ScriptedProvider([ProviderFailure("503", retryable=True), "ok"]), retry=slow
    )
    t0 = time.perf_counter()
    assert asyncio.run(model.complete("hi")).text == "ok"
    assert time.perf_counter() - t0 >= 0.2
    only_timeouts = RetryPolicy(attempts=3, backoff=0.0, retry_on=(TimeoutError,))
    picky = Model(
        "m",
        provider=ScriptedProvider([ProviderFailure("503", retryable=True), "ok"]),
        retry=only_timeouts,
    )
    with pytest.raises(ModelError, match="failed: 503"):
        asyncio.run(picky.complete("hi"))


def test_retry_after_is_honoured() -> None:
    model = scripted(ProviderFailure("429", retryable=True, retry_after=0.2), "ok")
    t0 = time.perf_counter()
    asyncio.run(model.complete("hi"))
    assert time.perf_counter() - t0 >= 0.2


def test_unknown_and_unconfigured_models(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="unknown provider 'gpt'"):
        Model("gpt:4")
    with pytest.raises(ModelError, match="name it provider:model"):
        Model("gpt-4o")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelError, match="need OPENAI_API_KEY, or OPENAI_BASE_URL"):
        Model("openai:gpt-4o-mini")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ModelError, match="need ANTHROPIC_API_KEY"):
        Model("anthropic:claude-3-5-haiku-latest")


def test_calls_in_a_step_are_recorded_with_tokens_and_cost() -> None:
    model = scripted(Response(text="a", usage=Usage(input_tokens=10, output_tokens=5)), "b")

    class Two(Flow):
        @start()
        async def ask_twice(self) -> str:
            first = await model.complete("one")
            second = await model.complete("two")
            return first.text + second.text

    flow = Two()
    assert flow.kickoff() == "ab"
    calls = [e for e in flow.events if isinstance(e, ModelCalled)]
    assert [c.index for c in calls] == [1, 2]
    assert (calls[0].input_tokens, calls[0].output_tokens, calls[0].cost) == (10, 5, 0.0)
    assert calls[0].step == "ask_twice" and calls[0].latency >= 0
    assert isinstance(calls[0].response, Response)


def test_a_resumed_step_does_not_pay_for_recorded_calls_again(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/runs.db"
    provider = ScriptedProvider(["first answer", "second answer", "third answer"])
    model = Model("m", provider=provider)
    crash = {"on": True}

    class Costly(Flow):
        @start()
        async def work(self) -> str:
            a = await model.complete("1")
            b = await model.complete("2")
            if crash["on"]:
                raise RuntimeError("the process dies here")
            c = await model.complete("3")
            return " | ".join([a.text, b.text, c.text, str(a.replayed)])

    flow = Costly()
    with pytest.raises(RuntimeError, match="the process dies here"):
        flow.kickoff(store=url)
    assert len(provider.requests) == 2
    crash["on"] = False
    assert Costly().resume(flow.run_id, store=url) == (
        "first answer | second answer | third answer | True"
    )
    assert len(provider.requests) == 3  # only the third call was paid for


def test_a_retry_calls_the_model_afresh() -> None:
    provider = ScriptedProvider(["bad", "good"])
    model = Model("m", provider=provider)

    class Retry(Flow):
        @start(retry=2)
        async def work(self) -> str:
            answer = (await model.complete("x")).text
            if answer == "bad":
                raise ValueError("bad answer")
            return answer

    assert Retry().kickoff() == "good"
    assert len(provider.requests) == 2


def test_streaming_reaches_listeners_but_not_the_log() -> None:
    model = scripted("one two three")

    class Streams(Flow):
        @start()
        async def talk(self) -> str:
            return (await model.complete("go", stream=True)).text

    flow = Streams()
    heard: list[Any] = []
    flow.subscribe(heard.append)
    assert flow.kickoff() == "one two three"
    pieces = [e.text for e in heard if isinstance(e, TokenStreamed)]
    assert "".join(pieces) == "one two three" and len(pieces) == 3
    assert not any(isinstance(e, TokenStreamed) for e in flow.events)


def test_stream_outside_a_run_yields_pieces() -> None:
    model = scripted("a b")

    async def collect() -> list[str]:
        return [piece async for piece in model.stream("go")]

    assert asyncio.run(collect()) == ["a", " b"]


def test_concurrency_limit_holds() -> None:
    limits = Limits(concurrency=2)
    provider = ScriptedProvider(["x"], repeat_last=True, delay=0.02)
    model = Model("m", provider=provider, limits=limits)
    inflight = {"now": 0, "max": 0}
    original = provider.complete

    async def watched(name: str, request: Any) -> Response:
        inflight["now"] += 1
        inflight["max"] = max(inflight["max"], inflight["now"])
        try:
            return await original(name, request)
        finally:
            inflight["now"] -= 1

    provider.complete = watched  # type: ignore[method-assign]

    async def many() -> None:
        await asyncio.gather(*(model.complete(str(i)) for i in range(8)))

    asyncio.run(many())
    assert inflight["max"] == 2


def test_price_table() -> None:
    assert cost("openai", "gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost("local", "smollm2", 10, 10) == 0.0
    assert cost("openai", "no-such-model", 10, 10) is None


def test_the_response_cache_reuses_identical_requests_across_runs(tmp_path: Any) -> None:
    provider = ScriptedProvider(["fresh answer", "another"])
    model = Model("m", provider=provider, cache=3600)

    class Cached(Flow):
        @start()
        async def ask(self) -> str:
            return (await model.complete("the same question")).text

    url = f"sqlite:///{tmp_path}/runs.db"
    first, second = Cached(), Cached()
    assert first.kickoff(store=url) == second.kickoff(store=url) == "fresh answer"
    assert len(provider.requests) == 1
    (hit,) = [e for e in second.events if isinstance(e, ModelCalled)]
    assert hit.cached and hit.cost == 0.0
    assert not next(e for e in first.events if isinstance(e, ModelCalled)).cached


def test_requests_and_tokens_per_minute_are_paced(monkeypatch: pytest.MonkeyPatch) -> None:
    """``rpm``/``tpm`` hold calls back until the rolling minute has room (a fake clock:
    asyncio.sleep inside the limiter advances it instead of waiting)."""
    from plait.llm import _limits

    clock = {"now": 1000.0}
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock["now"] += seconds
        await real_sleep(0)

    monkeypatch.setattr(_limits.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(_limits.asyncio, "sleep", fake_sleep)

    async def calls(limits: Limits, tokens: int, n: int) -> list[float]:
        starts = []
        for _ in range(n):
            await limits.acquire()
            starts.append(clock["now"])
            limits.release(tokens)
        return starts

    starts = asyncio.run(calls(Limits(rpm=2), 0, 5))
    assert starts == [1000.0, 1000.0, 1060.0, 1060.0, 1120.0]
    clock["now"] = 5000.0
    starts = asyncio.run(calls(Limits(tpm=100), 60, 3))
    assert starts == [5000.0, 5000.0, 5060.0]  # 120 tokens used: wait for the minute
    with pytest.raises(ValueError, match="rpm must be 1 or more"):
        Limits(rpm=0)


def test_concurrent_calls_get_their_own_answers_back_on_resume(tmp_path: Any) -> None:
    """Replayed calls return at once, so concurrent callers come in another order than
    the first time; each must still get the answer to its own request."""
    url = f"sqlite:///{tmp_path}/runs.db"

    def answer(request: Any) -> str:
        return f"answer to {request.messages[-1].content}"

    provider = ScriptedProvider([answer], repeat_last=True)
    model = Model("m", provider=provider)
    crash = {"on": True}

    class Chains(Flow):
        @start()
        async def both(self) -> dict[str, list[str]]:
            async def chain(name: str, pause: float) -> list[str]:
                first = (await model.complete(f"{name}-1")).text
                await asyncio.sleep(pause)
                second = (await model.complete(f"{name}-2 after {first}")).text
                return [first, second]

            a, b = await asyncio.gather(chain("A", 0.05), chain("B", 0.0))
            if crash["on"]:
                raise RuntimeError("crash after the calls")
            return {"A": a, "B": b}

    flow = Chains()
    with pytest.raises(RuntimeError, match="crash after the calls"):
        flow.kickoff(store=url)
    crash["on"] = False
    paid = len(provider.requests)
    out = Chains().resume(flow.run_id, store=url)
    assert out == {
        "A": ["answer to A-1", "answer to A-2 after answer to A-1"],
        "B": ["answer to B-1", "answer to B-2 after answer to B-1"],
    }
    assert len(provider.requests) == paid  # all four were replayed


def test_the_concurrency_limit_spans_event_loops() -> None:
    """Blocking kickoffs in def steps each run their own event loop; one limit holds
    across all of them."""
    import threading

    limits = Limits(concurrency=1)
    inflight = {"now": 0, "max": 0}
    guard = threading.Lock()

    async def one() -> None:
        await limits.acquire()
        with guard:
            inflight["now"] += 1
            inflight["max"] = max(inflight["max"], inflight["now"])
        await asyncio.sleep(0.02)
        with guard:
            inflight["now"] -= 1
        limits.release(0)

    threads = [threading.Thread(target=lambda: asyncio.run(one())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert inflight["max"] == 1


def test_a_shared_manager_delegates_within_its_own_crew() -> None:
    from plait.agents import Agent, Crew, Task

    boss = Agent("Boss", llm=Model("m", provider=ScriptedProvider(["x"], repeat_last=True)))
    a, b = Agent("Writer A", llm=boss.model), Agent("Writer B", llm=boss.model)
    Crew([a], [Task("t")], process="hierarchical", manager=boss)
    Crew([b], [Task("t")], process="hierarchical", manager=boss)
    (delegate,) = [t for t in boss.tools if t.name == "delegate_work"]
    assert "Coworkers: Writer B." in delegate.description
