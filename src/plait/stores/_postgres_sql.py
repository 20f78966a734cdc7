"""The SQL of :class:`~plait.stores.PostgresStore` and how it reads a run's row back.

Statements name the schema ``{s}`` and the runs a prune picks ``{select}`` (filled in with
:mod:`psycopg.sql` when the store is made), and take their parameters psycopg's way
(``%s``, ``%(name)s``, ``%b`` for binary). :func:`_record` reads a run's row back.
"""

from __future__ import annotations

from typing import Any

from plait.runtime import RunRecord, decode_value, value_from_text

_RUN_COLUMNS = (
    "run_id, flow, status, created_at, updated_at, inputs, plan, error, owner, lease_until,"
    " format, inputs_text"
)
_FOLLOWS = (
    " WHERE coalesce((SELECT coalesce(last, seq) FROM {s}.events WHERE run_id = %(run)s"
    " ORDER BY seq DESC LIMIT 1), 0) < %(first)s"
)
"""The rows go in only when they come after the run's stored log."""
_QUERIES = {
    "create": "INSERT INTO {s}.runs (" + _RUN_COLUMNS + ") VALUES"
    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING",
    "last": "SELECT (SELECT coalesce(last, seq) FROM {s}.events WHERE run_id = %s"
    " ORDER BY seq DESC LIMIT 1) FROM {s}.runs WHERE run_id = %s",
    # One statement, one round trip, its own commit: the rows (one per batch, see
    # plait.stores._batches) go in only when they follow the stored log (the primary key
    # refuses a racing writer's overlap too). The arrays go in binary form (%b): the
    # text form escapes every body with a regex.
    "append": "INSERT INTO {s}.events (run_id, seq, last, type, ts, body)"
    " SELECT %(run)s, e.seq, e.last, e.type, e.ts, e.body"
    " FROM unnest(%(seqs)b::bigint[], %(lasts)b::bigint[], %(types)b::text[],"
    " %(ts)b::float8[], %(bodies)b::text[]) AS e(seq, last, type, ts, body)" + _FOLLOWS,
    # The same for the common batch of one row, with no arrays to make and unpack.
    "append_row": "INSERT INTO {s}.events (run_id, seq, last, type, ts, body)"
    " SELECT %(run)s, %(first)s::bigint, %(last)s::bigint, %(type)s::text, %(ts)s::float8,"
    " %(body)s::text" + _FOLLOWS,
    "status": "UPDATE {s}.runs SET status = %s, error = %s, updated_at = %s WHERE run_id = %s",
    "get": "SELECT " + _RUN_COLUMNS + " FROM {s}.runs WHERE run_id = %s",
    "list": "SELECT " + _RUN_COLUMNS + " FROM {s}.runs"
    " WHERE (%(flow)s::text IS NULL OR flow = %(flow)s)"
    " AND (%(status)s::text IS NULL OR status = %(status)s)"
    " AND (%(since)s::float8 IS NULL OR created_at >= %(since)s)"
    " AND (%(before)s::float8 IS NULL OR created_at < %(before)s)"
    " ORDER BY created_at DESC, run_id DESC LIMIT %(limit)s",
    # A run's rows that hold events after a seq: from the row holding that seq on.
    "read": "SELECT seq, body FROM {s}.events WHERE run_id = %(run)s AND seq >= coalesce("
    "(SELECT max(seq) FROM {s}.events WHERE run_id = %(run)s AND seq <= %(after)s), 0)"
    " AND coalesce(last, seq) > %(after)s ORDER BY seq",
    "exists": "SELECT 1 FROM {s}.runs WHERE run_id = %s",
    "delete": "DELETE FROM {s}.runs WHERE run_id = %s",
    # A concurrent acquire waits for the row lock, then re-checks the WHERE on the row
    # the winner wrote: exactly one of them updates it.
    "acquire": "UPDATE {s}.runs SET owner = %(owner)s, lease_until = %(until)s"
    " WHERE run_id = %(run_id)s AND (owner = '' OR owner = %(owner)s OR lease_until < %(now)s"
    " OR owner = %(replace)s)",
    "release": "UPDATE {s}.runs SET owner = '', lease_until = 0 WHERE run_id = %s AND owner = %s",
    "cache_get": "SELECT value, created_at, expires_at, format FROM {s}.cache WHERE key = %s",
    "cache_put": "INSERT INTO {s}.cache (key, value, created_at, expires_at, format)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
    " created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at,"
    " format = EXCLUDED.format",
    # %(statuses)s, %(flow)s, %(keep)s, %(older)s; events go with their run (ON DELETE
    # CASCADE). The outer status check makes a run resumed meanwhile stay.
    "prune_select": "SELECT run_id FROM (SELECT run_id, updated_at, row_number() OVER ("
    "PARTITION BY flow ORDER BY created_at DESC, run_id DESC) AS rank FROM {s}.runs"
    " WHERE status = ANY(%(statuses)s) AND (%(flow)s::text IS NULL OR flow = %(flow)s)) AS m"
    " WHERE rank > %(keep)s AND (%(older)s::float8 IS NULL OR updated_at < %(older)s)",
    "prune_count": "SELECT count(*) FROM ({select}) AS doomed",
    "prune": "DELETE FROM {s}.runs WHERE run_id IN ({select}) AND status = ANY(%(statuses)s)",
}


def _record(row: tuple[Any, ...]) -> RunRecord:
    run_id, flow, status, created_at, updated_at, old_inputs, plan, error, owner, until = row[:10]
    fmt, inputs_text = row[10:]
    if inputs_text is None:  # made before migration 3: JSONB, format 1
        inputs = decode_value(old_inputs, fmt)
    else:
        inputs = value_from_text(inputs_text, f"the stored inputs of run {run_id}", fmt)
    return RunRecord(
        run_id=run_id,
        flow=flow,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        inputs=inputs,
        plan=None if plan is None else decode_value(plan, fmt),
        error=error,
        owner=owner,
        lease_until=until,
    )
