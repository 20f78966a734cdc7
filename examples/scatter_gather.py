"""The scatter-gather pattern: split the work, do the pieces at once, combine.

``workers`` is either a list (worker i gets item i, each a step of its own) or one
function applied to every item. Here three "search engines" answer one query each, then a
single "summariser" handles every hit, three at a time.

    python examples/scatter_gather.py
"""

from __future__ import annotations

import asyncio
import time

from plait import scatter_gather


async def search_web(query: str) -> list[str]:
    await asyncio.sleep(0.1)
    return [f"web: {query} tutorial", f"web: {query} pitfalls"]


async def search_papers(query: str) -> list[str]:
    await asyncio.sleep(0.1)
    return [f"paper: a survey of {query}"]


def search_code(query: str) -> list[str]:
    time.sleep(0.1)  # sync workers run in threads, so they overlap too
    return [f"code: {query.replace(' ', '_')}.py"]


search = scatter_gather(
    scatter=lambda query: [query, query, query],
    workers=[search_web, search_papers, search_code],
    gather=lambda hits: sorted(hit for found in hits for hit in found),
    name="search",
)


async def summarise(hit: str) -> str:
    await asyncio.sleep(0.02)
    kind, text = hit.split(": ", 1)
    return f"[{kind}] {text}"


summaries = scatter_gather(
    scatter=lambda hits: hits,
    workers=summarise,
    gather="\n".join,
    concurrency=3,
    name="summaries",
)

if __name__ == "__main__":
    t0 = time.perf_counter()
    hits = search.run({"data": "durable workflows"})
    took = (time.perf_counter() - t0) * 1000
    print(f"{len(hits)} hits from 3 searches of 100 ms each in {took:.0f} ms")
    print(summaries.run({"data": hits}))
