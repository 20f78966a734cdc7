from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import plait
from plait import DefinitionError, Flow, StepError, listen, map_reduce, start
from plait.runtime import Event, ItemCompleted
from tests.patterns._sync import TIMEOUT, InFlight


# -- the guide's word count, as written there ---------------------------------------------
def map_words(text):  # type: ignore[no-untyped-def]
    """Map function: count words in text."""
    words = text.split()
    return {word: 1 for word in words}


def reduce_counts(word_counts):  # type: ignore[no-untyped-def]
    """Reduce function: sum word counts."""
    result = {}
    for word_count in word_counts:
        for word, count in word_count.items():
            result[word] = result.get(word, 0) + count
    return result


def test_guide_word_count() -> None:
    word_count_flow = map_reduce(map_words, reduce_counts, name="word_count")
    texts = ["the cat sat", "the dog sat down", "a cat"]
    assert word_count_flow.run({"data": texts}) == {
        "the": 2,
        "cat": 2,
        "sat": 2,
        "dog": 1,
        "down": 1,
        "a": 1,
    }


def test_guide_mapper_counts_a_word_once_per_text() -> None:
    # The guide's mapper builds {word: 1}: a word repeated inside one text counts once.
    assert map_reduce(map_words, reduce_counts).run({"data": ["go go go", "go"]}) == {"go": 2}


def test_each_item_is_recorded_and_results_keep_input_order() -> None:
    n = 5

    async def main() -> tuple[list[int], list[Event]]:
        finished = [asyncio.Event() for _ in range(n)]

        async def mapper(i: int) -> int:
            if i + 1 < n:  # finish only after the next item: completion runs backwards
                await asyncio.wait_for(finished[i + 1].wait(), TIMEOUT)
            finished[i].set()
            return i * 10

        events: list[Event] = []
        wf = map_reduce(mapper, list, concurrency=n)
        out: list[int] = await wf.run_async({"data": range(n)}, listeners=[events.append])
        return out, events

    out, events = asyncio.run(main())
    assert out == [0, 10, 20, 30, 40]
    items = [e for e in events if isinstance(e, ItemCompleted)]
    assert [e.index for e in items] == [4, 3, 2, 1, 0]
    assert [e.output for e in items] == [40, 30, 20, 10, 0]
    assert {e.step for e in items} == {"map"}


def test_order_is_kept_when_items_finish_out_of_order_under_a_bound() -> None:
    async def mapper(i: int) -> int:
        for _ in range((i * 7) % 5):
            await asyncio.sleep(0)
        return i

    assert map_reduce(mapper, list, concurrency=4).run({"data": range(50)}) == list(range(50))


def test_async_concurrency_bound_is_reached_and_never_exceeded() -> None:
    flight = InFlight()

    async def mapper(x: int) -> int:
        with flight:
            for _ in range(3):
                await asyncio.sleep(0)
        return x

    assert map_reduce(mapper, sum, concurrency=4).run({"data": range(40)}) == sum(range(40))
    assert flight.peak == 4


def test_sync_mappers_run_concurrency_at_once_in_threads() -> None:
    # The bound itself is the same code for sync and async mappers (checked exactly above);
    # here the barrier proves three threads really run together.
    flight = InFlight()
    barrier = threading.Barrier(3, timeout=TIMEOUT)

    def mapper(x: int) -> int:
        with flight:
            barrier.wait()  # needs three at once: fails if they ran one by one
        return x

    assert map_reduce(mapper, sum, concurrency=3).run({"data": range(9)}) == 36
    assert flight.peak == 3


def test_ten_thousand_items_each_recorded() -> None:
    events: list[Event] = []
    wf = map_reduce(lambda x: x + 1, sum, concurrency=50)
    assert wf.run({"data": range(10_000)}, listeners=[events.append]) == sum(range(1, 10_001))
    items = [e for e in events if isinstance(e, ItemCompleted)]
    assert len(items) == 10_000
    assert sorted(e.index for e in items) == list(range(10_000))


def test_async_reducer_and_empty_input() -> None:
    async def count(results: list[Any]) -> int:
        return len(results)

    assert map_reduce(str, count).run({"data": []}) == 0


def test_mapper_failure_fails_the_map_step_with_the_cause() -> None:
    def mapper(x: int) -> float:
        return 1 / x

    with pytest.raises(StepError, match=r"step 'map'.*ZeroDivisionError") as info:
        map_reduce(mapper, sum, concurrency=2).run({"data": [1, 2, 0, 4]})
    assert info.value.step == "map"
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_input_must_be_a_collection() -> None:
    with pytest.raises(StepError, match=r"the run input 'data' must be a list"):
        map_reduce(str, list).run({"data": 5})


@pytest.mark.parametrize("bad", [0, -1, True])
def test_bad_concurrency_fails_when_built(bad: int) -> None:
    with pytest.raises(DefinitionError, match="concurrency must be >= 1"):
        map_reduce(str, list, concurrency=bad)


def test_map_inside_a_flow_step() -> None:
    flight = InFlight()

    async def fetch(x: int) -> int:
        with flight:
            await asyncio.sleep(0)
        return x * 2

    class Batch(Flow):
        @start()
        def items(self) -> list[int]:
            return list(range(10))

        @listen(items)
        async def doubled(self, items: list[int]) -> list[int]:
            return await plait.map(fetch, items, concurrency=2)

        @listen(doubled)
        async def again(self, values: list[int]) -> list[int]:
            return await self.map(lambda v: v + 1, values, concurrency=3)

    flow = Batch()
    assert flow.kickoff() == [x * 2 + 1 for x in range(10)]
    assert flight.peak == 2
    steps = [e.step for e in flow.events if isinstance(e, ItemCompleted)]
    assert steps.count("doubled") == 10 and steps.count("again") == 10
