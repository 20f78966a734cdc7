"""``map`` inside a step: bounded concurrency, results in order, each item recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from plait.define import is_async_callable
from plait.runtime._context import StepContext
from plait.runtime._events import ItemCompleted

if TYPE_CHECKING:
    from plait.runtime._loop import RunLoop


async def map_items(
    loop: RunLoop,
    ctx: StepContext,
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    concurrency: int | None,
) -> list[Any]:
    """``fn`` over ``items`` with at most ``concurrency`` calls at once (all at once when
    ``None``). Items already recorded for this step invocation (a retry, a resume) are not
    run again. ``concurrency`` workers pull from one queue, so 10,000 items make 100
    tasks, not 10,000. The first failure cancels the rest and is raised."""
    values = list(items)
    step, invocation = ctx.step, ctx.invocation
    ctx.maps += 1
    call_no = ctx.maps  # the n-th map of this attempt: its items are kept apart
    done = loop.view.items.get((step, invocation, call_no), {})
    results: list[Any] = [done.get(i) for i in range(len(values))]
    pending = iter([i for i in range(len(values)) if i not in done])
    is_async = is_async_callable(fn)
    call = loop.executor.call

    async def work() -> None:
        for i in pending:
            out = await call(fn, (values[i],), {}, is_async)
            results[i] = out
            loop.record(
                loop.new(
                    ItemCompleted,
                    step=step,
                    invocation=invocation,
                    index=i,
                    output=out,
                    call=call_no,
                )
            )
            await loop.flush()

    width = len(values) if not concurrency else max(1, min(concurrency, len(values)))
    if width <= 1:
        await work()
        return results
    aio = asyncio.get_running_loop()
    workers = [aio.create_task(work()) for _ in range(width)]
    try:
        finished, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for w in workers:
            w.cancel()
    for w in finished:
        if not w.cancelled():
            error = w.exception()
            if error is not None:
                raise error
    return results
