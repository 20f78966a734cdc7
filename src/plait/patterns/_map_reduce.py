"""The map-reduce pattern: a function over every item of a collection, then one reduce.

The guide's word count:

>>> from plait import map_reduce
>>> def map_words(text):
...     return {word: 1 for word in text.split()}
>>> def reduce_counts(word_counts):
...     result = {}
...     for word_count in word_counts:
...         for word, count in word_count.items():
...             result[word] = result.get(word, 0) + count
...     return result
>>> map_reduce(map_words, reduce_counts).run({"data": ["a b", "b c"]})
{'a': 1, 'b': 2, 'c': 1}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from plait.define import Workflow
from plait.patterns._step import map
from plait.patterns._tasks import (
    INPUT,
    check_concurrency,
    items_of,
    lift,
    require_callable,
    upstream_of,
)

MAP = "map"
REDUCE = "reduce"


def map_reduce(
    mapper: Callable[[Any], Any],
    reducer: Callable[[list[Any]], Any],
    *,
    concurrency: int | None = None,
    name: str = "map_reduce",
) -> Workflow:
    """A workflow of two tasks: ``map`` applies ``mapper`` to every item of the run input
    ``data`` (``wf.run({"data": items})``) with :func:`plait.map` — at most ``concurrency``
    at a time (unbounded when ``None``), results in item order, each item recorded as an
    ``ItemCompleted`` event as it finishes — then ``reduce`` calls ``reducer(results)``,
    whose return value is the run's result.

    Either function may be sync (runs in a thread) or async (runs on the event loop).
    """
    owner = f"map_reduce {name!r}"
    require_callable(owner, "mapper", mapper)
    require_callable(owner, "reducer", reducer)
    check_concurrency(owner, concurrency)

    async def map_all(data: Iterable[Any]) -> list[Any]:
        items = items_of(owner, f"the run input {INPUT!r} must be", data)
        return await map(mapper, items, concurrency=concurrency)

    wf = Workflow(name)
    wf.add(lift(map_all, upstream_of(INPUT), reads_input=True), name=MAP)
    wf.add(lift(reducer, upstream_of(MAP)), name=REDUCE, depends_on=[MAP])
    return wf
