"""How the PostgreSQL store appends a batch: one statement (see
:mod:`plait.stores._postgres_sql`) that inserts it only when it follows the stored log,
and, when it stored nothing, why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from plait.core import StoreError
from plait.runtime import Event
from plait.stores._order import check_order


async def insert_batch(
    conn: psycopg.AsyncConnection[tuple[Any, ...]],
    query: sql.Composed,
    params: dict[str, Any],
    last: sql.Composed,
    run_id: str,
    events: Sequence[Event],
    count: int,
) -> None:
    """Run an append's ``query`` (``count`` rows); when it stored nothing, read the run's
    last seq (``last``) and raise the StoreError that says why. Other errors are the
    driver's."""
    try:
        cur = await conn.execute(query, params)
    except psycopg.errors.ForeignKeyViolation:
        raise StoreError(f"run {run_id} is not in this store; create it first") from None
    except psycopg.errors.UniqueViolation:
        cur = None
    if cur is None or cur.rowcount != count:  # refused: say why
        cur = await conn.execute(last, (run_id, run_id))
        found = await cur.fetchone()
        if found is None:
            raise StoreError(f"run {run_id} is not in this store; create it first")
        check_order(run_id, found[0] or 0, events)
        raise StoreError(
            f"run {run_id}: another process wrote event #{events[0].seq} at the same "
            "time; nothing of this batch was stored"
        )
