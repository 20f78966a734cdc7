"""Checks every store makes before it appends."""

from __future__ import annotations

from collections.abc import Sequence

from plait.core import StoreError
from plait.runtime import Event


def check_order(run_id: str, last_seq: int, events: Sequence[Event]) -> None:
    """Refuse a batch that does not continue the run's log in increasing ``seq``."""
    previous = last_seq
    for event in events:
        if event.run_id != run_id:
            raise StoreError(
                f"event #{event.seq} belongs to run {event.run_id}, not {run_id}; nothing "
                "of this batch was stored"
            )
        if event.seq <= previous:
            raise StoreError(
                f"run {run_id}: event #{event.seq} does not follow #{previous} (another "
                "process writing this run? a replayed batch?); nothing of this batch was "
                "stored"
            )
        previous = event.seq
