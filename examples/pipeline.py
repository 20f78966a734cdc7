"""The pipeline pattern: extract -> transform -> load, validated between stages.

Each ``Stage`` may declare ``input=`` and ``output=``: a pydantic model (or a type such as
``list[Order]``) validates and converts the value; a function returns it or raises. The
first stage receives the run input ``data``. A value that fails validation stops the run
with ``StageValidationError`` naming the stage and what was wrong.

    python examples/pipeline.py
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, PositiveFloat

from plait import Stage, StageValidationError, pipeline


class Order(BaseModel):
    id: int
    customer: str
    amount: PositiveFloat


def extract(csv: str) -> list[dict[str, str]]:
    header, *rows = [line.split(",") for line in csv.strip().splitlines()]
    return [dict(zip(header, row, strict=True)) for row in rows]


def by_customer(orders: list[Order]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for order in orders:
        totals[order.customer] = totals.get(order.customer, 0.0) + order.amount
    return totals


async def load(totals: dict[str, float]) -> str:
    await asyncio.sleep(0)  # stands in for a write to a warehouse
    return ", ".join(f"{name}={amount:.2f}" for name, amount in sorted(totals.items()))


def non_empty(totals: dict[str, float]) -> dict[str, float]:
    if not totals:
        raise ValueError("no orders to load")
    return totals


etl = pipeline(
    Stage("extract", extract),
    Stage("transform", by_customer, input=list[Order], output=non_empty),
    Stage("load", load),
    name="orders_etl",
)

GOOD = "id,customer,amount\n1,ada,30\n2,grace,12.5\n3,ada,7.5"
BAD = "id,customer,amount\n1,ada,30\n2,grace,-4"

if __name__ == "__main__":
    print("loaded:", etl.run({"data": GOOD}))
    try:
        etl.run({"data": BAD})
    except StageValidationError as err:
        print(f"rejected at stage {err.step!r}: {err}")
