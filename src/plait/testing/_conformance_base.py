"""Shared pieces of the store conformance suite: the factory protocol and sample data."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from pydantic import BaseModel

from plait.core import StoreError
from plait.runtime import (
    Event,
    RunRecord,
    RunStarted,
    StepCompleted,
    StepStarted,
    Store,
)


class StoreFactory(Protocol):
    durable: bool
    """Whether the store keeps data across objects (``reopen``) and serialises events."""

    async def new(self) -> Store: ...

    async def reopen(self) -> Store: ...


class Sample(BaseModel):
    """A pydantic value inside events: it must come back as itself."""

    title: str
    tags: list[str] = []


def _record(run_id: str, flow: str = "flow", created_at: float = 1.0) -> RunRecord:
    return RunRecord(
        run_id=run_id, flow=flow, created_at=created_at, updated_at=created_at, inputs={"a": 1}
    )


def _events(run_id: str, start: int = 1, count: int = 3) -> list[Event]:
    out: list[Event] = []
    for seq in range(start, start + count):
        if seq == 1:
            out.append(RunStarted(run_id=run_id, seq=1, ts=1.0, flow="flow", state={"id": run_id}))
        elif seq % 2 == 0:
            out.append(StepStarted(run_id=run_id, seq=seq, ts=float(seq), step="s", invocation=seq))
        else:
            out.append(
                StepCompleted(
                    run_id=run_id,
                    seq=seq,
                    ts=float(seq),
                    step="s",
                    invocation=seq - 1,
                    output={"n": seq, "text": "é✓", "nested": [1, {"x": None}]},
                    duration=0.5,
                )
            )
    return out


async def _expect_store_error(call: Awaitable[Any]) -> StoreError:
    try:
        await call
    except StoreError as exc:
        return exc
    raise AssertionError("expected a StoreError")


def _finished(
    run_id: str, flow: str = "flow", at: float = 1.0, status: str = "completed"
) -> RunRecord:
    return RunRecord(run_id=run_id, flow=flow, status=status, created_at=at, updated_at=at)
