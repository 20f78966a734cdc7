"""A task graph: a ``Workflow`` whose tasks name their dependencies.

``fetch_users`` and ``fetch_orders`` do not depend on each other, so they run at the same
time; ``report`` runs once both are done and receives their outputs by parameter name.
``currency`` is not a task, so it comes from the run's inputs.

    python examples/task_graph.py
"""

from __future__ import annotations

import asyncio

from plait import Workflow
from plait.runtime import Event, StepCompleted, StepStarted

wf = Workflow("sales_report")


@wf.task()
async def fetch_users() -> dict[int, str]:
    await asyncio.sleep(0.1)  # stands in for a database query
    return {1: "ada", 2: "grace"}


@wf.task()
async def fetch_orders() -> list[tuple[int, float]]:
    await asyncio.sleep(0.1)  # stands in for an API call
    return [(1, 30.0), (2, 12.5), (1, 7.5)]


@wf.task(depends_on=[fetch_orders])
def totals(fetch_orders: list[tuple[int, float]]) -> dict[int, float]:
    out: dict[int, float] = {}
    for user, amount in fetch_orders:
        out[user] = out.get(user, 0.0) + amount
    return out


@wf.task(depends_on=[fetch_users, totals])
def report(fetch_users: dict[int, str], totals: dict[int, float], currency: str) -> list[str]:
    return [f"{fetch_users[u]:<6} {amount:7.2f} {currency}" for u, amount in sorted(totals.items())]


if __name__ == "__main__":
    events: list[Event] = []
    print("\n".join(wf.run({"currency": "EUR"}, listeners=[events.append])))
    t0 = events[0].ts
    for e in events:
        if isinstance(e, StepStarted | StepCompleted):
            print(f"{(e.ts - t0) * 1000:6.1f} ms  {e.type:<13} {e.step}")
