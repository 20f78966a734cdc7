"""The scatter-gather pattern: split the input, work on the pieces at once, combine.

>>> from plait import scatter_gather
>>> wf = scatter_gather(
...     scatter=lambda text: text.split(),
...     workers=str.upper,
...     gather=" ".join,
... )
>>> wf.run({"data": "a b c"})
'A B C'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from plait.core import DefinitionError
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

SCATTER = "scatter"
GATHER = "gather"
WORK = "work"


def scatter_gather(
    scatter: Callable[[Any], Any],
    workers: Callable[[Any], Any] | Sequence[Callable[[Any], Any]],
    gather: Callable[[list[Any]], Any],
    *,
    concurrency: int | None = None,
    name: str = "scatter_gather",
) -> Workflow:
    """A workflow: ``scatter(data)`` returns a list of work items, workers turn them into
    results, concurrently, and ``gather(results)`` (results in item order) is the run's
    result. The run input is ``data``: ``wf.run({"data": x})``.

    ``workers`` is one function, applied to every item (the ``work`` task maps it with
    :func:`plait.map`, at most ``concurrency`` at a time, each item recorded as it
    finishes), or a list of functions where worker ``i`` gets item ``i``: each is a task of
    its own (named after the function, or ``worker_<i>``) and scatter must return exactly
    one item per worker. Async functions run on the event loop, sync ones in threads.
    """
    owner = f"scatter_gather {name!r}"
    require_callable(owner, "scatter", scatter)
    require_callable(owner, "gather", gather)
    if callable(workers):
        return _one_worker(owner, name, scatter, workers, gather, concurrency)
    if not isinstance(workers, list | tuple):
        raise DefinitionError(
            f"{owner}: workers must be a function or a list of functions, got {workers!r}"
        )
    if not workers:
        raise DefinitionError(f"{owner}: workers is an empty list; give at least one worker")
    if concurrency is not None:
        raise DefinitionError(
            f"{owner}: concurrency= applies to a single worker function; a list of workers "
            "runs one task per worker, all at once"
        )
    for i, worker in enumerate(workers):
        require_callable(owner, f"workers[{i}]", worker)
    return _worker_list(owner, name, scatter, list(workers), gather)


def _scatter_task(
    owner: str, scatter: Callable[[Any], Any], expected: int | None
) -> Callable[..., Any]:
    def finish(value: Any) -> list[Any]:
        items = items_of(owner, "scatter must return", value)
        if expected is not None and len(items) != expected:
            raise ValueError(
                f"{owner}: scatter returned {len(items)} work items for {expected} workers; "
                f"worker i gets item i, so return exactly {expected} items, or pass one "
                "worker function to apply it to every item"
            )
        return items

    return lift(scatter, upstream_of(INPUT), finish, reads_input=True)


def _one_worker(
    owner: str,
    name: str,
    scatter: Callable[[Any], Any],
    worker: Callable[[Any], Any],
    gather: Callable[[list[Any]], Any],
    concurrency: int | None,
) -> Workflow:
    check_concurrency(owner, concurrency)

    async def work_all(items: list[Any]) -> list[Any]:
        return await map(worker, items, concurrency=concurrency)

    wf = Workflow(name)
    wf.add(_scatter_task(owner, scatter, None), name=SCATTER)
    wf.add(lift(work_all, upstream_of(SCATTER)), name=WORK, depends_on=[SCATTER])
    wf.add(lift(gather, upstream_of(WORK)), name=GATHER, depends_on=[WORK])
    return wf


def _worker_names(workers: list[Callable[[Any], Any]]) -> list[str]:
    names: list[str] = []
    for i, worker in enumerate(workers):
        fname = getattr(worker, "__name__", "")
        usable = fname.isidentifier() and fname not in (SCATTER, GATHER, INPUT, *names)
        names.append(fname if usable else f"worker_{i}")
    return names


def _worker_list(
    owner: str,
    name: str,
    scatter: Callable[[Any], Any],
    workers: list[Callable[[Any], Any]],
    gather: Callable[[list[Any]], Any],
) -> Workflow:
    names = _worker_names(workers)
    wf = Workflow(name)
    wf.add(_scatter_task(owner, scatter, len(workers)), name=SCATTER)
    for i, (task_name, worker) in enumerate(zip(names, workers, strict=True)):
        wf.add(lift(worker, _item(i)), name=task_name, depends_on=[SCATTER])

    def collect(upstream: Mapping[str, Any]) -> list[Any]:
        return [upstream[n] for n in names]

    wf.add(lift(gather, collect), name=GATHER, depends_on=names)
    return wf


def _item(i: int) -> Callable[[Mapping[str, Any]], Any]:
    def pick(upstream: Mapping[str, Any]) -> Any:
        return upstream[SCATTER][i]

    return pick
