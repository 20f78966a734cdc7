"""The step cache: a step whose code and inputs were seen before does not run again."""

from __future__ import annotations

import time
from typing import Any

import pytest

from plait import CacheHit, CachePolicy, DefinitionError, Flow, Workflow, listen, router, start
from plait.stores import MemoryStore
from tests.engine._helpers import of_type

CALLS: list[str] = []


class Research(Flow):
    @start(cache=True)
    def fetch(self) -> list[str]:
        CALLS.append("fetch")
        self.state["sources"] = [f"{self.state['topic']}-1", f"{self.state['topic']}-2"]
        return self.state["sources"]

    @listen(fetch)
    def summarise(self, sources: list[str]) -> str:
        CALLS.append("summarise")
        return " + ".join(sources)


@pytest.fixture(autouse=True)
def _calls() -> None:
    CALLS.clear()


def test_a_hit_skips_the_step_and_restores_its_state(store_url: str) -> None:
    first = Research()
    assert first.kickoff({"topic": "ai"}, store=store_url) == "ai-1 + ai-2"
    second = Research()
    assert second.kickoff({"topic": "ai"}, store=store_url) == "ai-1 + ai-2"
    assert CALLS == ["fetch", "summarise", "summarise"]  # fetch ran once
    assert second.state["sources"] == ["ai-1", "ai-2"]  # the cached state change is back
    (hit,) = of_type(second.events, "CacheHit")
    assert hit.step == "fetch" and hit.key.startswith("plait:step:")
    kinds = [type(e).__name__ for e in second.events if getattr(e, "step", "") == "fetch"]
    assert kinds == ["StepStarted", "CacheHit", "StateChanged", "StepCompleted"]
    assert not of_type(first.events, "CacheHit")


def test_other_inputs_miss() -> None:
    store = MemoryStore()
    Research().kickoff({"topic": "ai"}, store=store)
    Research().kickoff({"topic": "db"}, store=store)
    assert CALLS.count("fetch") == 2


def test_entries_expire_after_their_ttl() -> None:
    class Timed(Flow):
        @start(cache=CachePolicy(ttl=0.05))
        def work(self) -> int:
            CALLS.append("work")
            return 1

    store = MemoryStore()
    Timed().kickoff(store=store)
    Timed().kickoff(store=store)
    time.sleep(0.1)
    Timed().kickoff(store=store)
    assert CALLS == ["work", "work"]


def test_a_custom_key_picks_the_inputs() -> None:
    class Keyed(Flow):
        @start(cache=CachePolicy(key=lambda state: state["topic"].lower()))
        def work(self) -> str:
            CALLS.append(self.state["topic"])
            return self.state["topic"].lower()

    store = MemoryStore()
    assert Keyed().kickoff({"topic": "AI", "noise": 1}, store=store) == "ai"
    assert Keyed().kickoff({"topic": "ai", "noise": 2}, store=store) == "ai"
    assert CALLS == ["AI"]


def test_a_new_version_or_new_code_misses() -> None:
    def make(version: str) -> type[Flow]:
        class Versioned(Flow):
            @start(cache=CachePolicy(version=version))
            def work(self) -> str:
                CALLS.append(version)
                return version

        return Versioned

    store = MemoryStore()
    make("1")().kickoff(store=store)
    make("1")().kickoff(store=store)
    make("2")().kickoff(store=store)
    assert CALLS == ["1", "2"]

    class Other(Flow):  # same names, other code
        @start(cache=CachePolicy(version="1"))
        def work(self) -> str:
            CALLS.append("other")
            return "other"

    Other.__name__ = Other.__qualname__ = "Versioned"
    assert Other().kickoff(store=store) == "other"


def test_cached_workflow_tasks() -> None:
    wf = Workflow("cached")

    @wf.task(cache=True)
    def load(n: int) -> list[int]:
        CALLS.append("load")
        return list(range(n))

    @wf.task(depends_on=[load])
    def total(load: list[int]) -> int:
        return sum(load)

    store = MemoryStore()
    assert wf.run({"n": 4}, store=store) == 6
    assert wf.run({"n": 4}, store=store) == 6
    assert CALLS == ["load"]
    assert wf.run({"n": 5}, store=store) == 10
    assert CALLS == ["load", "load"]


def test_a_cached_router_takes_the_stored_route() -> None:
    class Decide(Flow):
        @start()
        def begin(self) -> int:
            return 3

        @router(begin, cache=True)
        def choose(self, n: int) -> str:
            CALLS.append("choose")
            return "big" if n > 2 else "small"

        @listen("big")
        def big(self) -> str:
            return "BIG"

        @listen("small")
        def small(self) -> str:
            return "SMALL"

    store = MemoryStore()
    assert Decide().kickoff(store=store) == "BIG"
    flow = Decide()
    assert flow.kickoff(store=store) == "BIG"
    assert CALLS == ["choose"]
    assert [e.label for e in of_type(flow.events, "RouteTaken")] == ["big"]


def test_uncachable_inputs_run_the_step_uncached(caplog: pytest.LogCaptureFixture) -> None:
    class Odd(Flow):
        @start(cache=CachePolicy(key=lambda state, *_: object()))
        def work(self) -> str:
            CALLS.append("work")
            return "done"

    store = MemoryStore()
    Odd().kickoff(store=store)
    Odd().kickoff(store=store)
    assert CALLS == ["work", "work"]
    assert "runs uncached" in caplog.text


def test_a_cached_output_is_a_copy_in_memory() -> None:
    class Mutable(Flow):
        @start(cache=True)
        def work(self) -> list[int]:
            CALLS.append("work")
            return [1]

    store = MemoryStore()
    out = Mutable().kickoff(store=store)
    out.append(2)
    assert Mutable().kickoff(store=store) == [1]


@pytest.mark.parametrize("bad", [0, -1, "soon", CachePolicy])
def test_bad_cache_settings_are_refused(bad: Any) -> None:
    with pytest.raises(DefinitionError, match=r"cache|ttl"):

        class Bad(Flow):
            @start(cache=bad)
            def work(self) -> None:
                pass


def test_cache_hits_show_in_the_event_stream() -> None:
    store = MemoryStore()
    Research().kickoff({"topic": "x"}, store=store)
    flow = Research()
    seen: list[Any] = []
    flow.subscribe(seen.append)
    flow.kickoff({"topic": "x"}, store=store)
    assert any(isinstance(e, CacheHit) for e in seen)
