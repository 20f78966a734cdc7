from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from plait import DefinitionError, StepError, scatter_gather
from plait.runtime import Event, ItemCompleted, StepCompleted, StepStarted
from tests.patterns._sync import TIMEOUT, InFlight, Rendezvous


def chunks(n: int) -> list[int]:
    return list(range(n))


def test_one_worker_is_applied_to_every_item_and_gather_gets_results_in_order() -> None:
    gathered: list[Any] = []

    def gather(results: list[int]) -> int:
        gathered.extend(results)
        return sum(results)

    wf = scatter_gather(chunks, lambda x: x * x, gather, name="squares")
    events: list[Event] = []
    assert wf.run({"data": 5}, listeners=[events.append]) == 30
    assert gathered == [0, 1, 4, 9, 16]
    assert sorted(e.index for e in events if isinstance(e, ItemCompleted)) == [0, 1, 2, 3, 4]
    assert [e.step for e in events if isinstance(e, StepStarted)] == ["scatter", "work", "gather"]


def test_sync_workers_run_at_once_in_threads() -> None:
    barrier = threading.Barrier(4, timeout=TIMEOUT)

    def worker(x: int) -> str:
        barrier.wait()  # breaks (and fails the run) unless all four run at the same time
        return threading.current_thread().name

    names = scatter_gather(chunks, worker, list).run({"data": 4})
    assert len(set(names)) == 4
    assert threading.current_thread().name not in names


def test_async_workers_overlap_on_the_loop() -> None:
    async def main() -> list[int]:
        meet = Rendezvous(3)

        async def worker(x: int) -> int:
            await meet.arrive()  # times out unless all three are in flight together
            return x + 1

        result: list[int] = await scatter_gather(chunks, worker, list).run_async({"data": 3})
        return result

    assert asyncio.run(main()) == [1, 2, 3]


def test_worker_list_gives_item_i_to_worker_i_each_as_its_own_step() -> None:
    def upper(s: str) -> str:
        return s.upper()

    async def reverse(s: str) -> str:
        return s[::-1]

    wf = scatter_gather(
        lambda text: text.split("|"), [upper, reverse, len], lambda rs: rs, name="three"
    )
    events: list[Event] = []
    assert wf.run({"data": "ab|cd|efg"}, listeners=[events.append]) == ["AB", "dc", 3]
    assert list(wf.__plait_steps__) == ["scatter", "upper", "reverse", "len", "gather"]
    done = {e.step: e.output for e in events if isinstance(e, StepCompleted)}
    assert done["upper"] == "AB" and done["reverse"] == "dc" and done["len"] == 3


def test_worker_list_steps_overlap_in_time() -> None:
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    def left(x: int) -> int:
        barrier.wait()
        return x

    def right(x: int) -> int:
        barrier.wait()
        return -x

    events: list[Event] = []
    wf = scatter_gather(lambda n: [n, n], [left, right], sum)
    assert wf.run({"data": 4}, listeners=[events.append]) == 0
    kinds = [
        (type(e).__name__, e.step) for e in events if isinstance(e, StepStarted | StepCompleted)
    ]
    first_done = min(kinds.index(("StepCompleted", s)) for s in ("left", "right"))
    assert kinds.index(("StepStarted", "left")) < first_done
    assert kinds.index(("StepStarted", "right")) < first_done


def test_unnamed_or_clashing_workers_get_positional_names() -> None:
    def scatter(x: int) -> list[int]:
        return [x, x, x]

    wf = scatter_gather(scatter, [lambda x: x, scatter, abs], list)
    assert list(wf.__plait_steps__) == ["scatter", "worker_0", "worker_1", "abs", "gather"]
    assert wf.run({"data": -2}) == [-2, [-2, -2, -2], 2]


def test_item_count_must_match_worker_count() -> None:
    wf = scatter_gather(lambda x: [x] * 3, [abs, abs], list, name="mismatch")
    with pytest.raises(StepError) as info:
        wf.run({"data": 1})
    err = info.value
    assert err.step == "scatter"
    assert "scatter_gather 'mismatch': scatter returned 3 work items for 2 workers" in str(err)
    assert isinstance(err.__cause__, ValueError)


def test_scatter_must_return_a_list_of_items() -> None:
    with pytest.raises(StepError, match=r"scatter must return a list .* got str 'abc'"):
        scatter_gather(lambda x: x, abs, list).run({"data": "abc"})


def test_concurrency_bounds_a_single_worker() -> None:
    flight = InFlight()

    async def main() -> list[int]:
        async def worker(x: int) -> int:
            with flight:
                for _ in range(3):
                    await asyncio.sleep(0)  # yield so the others can start
            return x

        wf = scatter_gather(chunks, worker, list, concurrency=3)
        out: list[int] = await wf.run_async({"data": 20})
        return out

    assert asyncio.run(main()) == list(range(20))
    assert flight.peak == 3


def test_gather_may_be_async() -> None:
    async def gather(results: list[int]) -> int:
        await asyncio.sleep(0)
        return max(results)

    assert scatter_gather(chunks, lambda x: -x, gather).run({"data": 4}) == 0


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((chunks, [], list), {}, "empty list"),
        ((chunks, 5, list), {}, "function or a list of functions"),
        ((chunks, [abs, 3], list), {}, r"workers\[1\] must be a function"),
        ((None, abs, list), {}, "scatter must be a function"),
        ((chunks, abs, "x"), {}, "gather must be a function"),
        ((chunks, [abs], list), {"concurrency": 2}, "applies to a single worker"),
        ((chunks, abs, list), {"concurrency": 0}, "concurrency must be >= 1"),
    ],
)
def test_bad_definitions_fail_when_built(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        scatter_gather(*args, **kwargs)
