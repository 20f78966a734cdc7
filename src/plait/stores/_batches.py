"""How the SQL stores keep an event log: one row per appended batch.

An ``append`` of events ``#first..#last`` is one row ``(run_id, seq=first, last, type,
ts, body)``: ``body`` is the event's JSON object when the batch holds one event, else a
JSON array of them (``type`` is then ``"batch"``; ``ts`` is the first event's). A durable
step's events (started, state patch, completed) so cost one row and one index entry, not
three; that is most of what a commit costs. A longer append is cut into rows of at most
:data:`BATCH_EVENTS`, stored in one transaction.

The primary key ``(run_id, seq)`` still refuses a writer that does not know the latest
log: plait numbers a run's events without gaps, so such a writer appends right after the
last event it knows of, which ends a row, and if anything was stored after it, a row
starting at that very seq exists (PostgreSQL's append also checks the stored last seq). Rows written before batches
(one event each, ``last`` NULL) read as batches of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from plait.core import StoreError
from plait.runtime import Event, decode_event, dumps_event, dumps_events, parse_events

BATCH_EVENTS = 256
"""The most events one row holds."""

EventRow = tuple[str, int, int, str, float, str]
"""An ``events`` row: run_id, seq (the first event's), last (the last event's), type, ts,
body."""


def event_rows(run_id: str, events: Sequence[Event], *, inputs_in_run: bool) -> list[EventRow]:
    """The rows that store ``events``; ``inputs_in_run``: the first is a ``RunStarted``
    whose inputs the run's record keeps (see :func:`plait.runtime.encode_event`)."""
    rows: list[EventRow] = []
    for start in range(0, len(events), BATCH_EVENTS):
        chunk = events[start : start + BATCH_EVENTS]
        first = chunk[0]
        kept = inputs_in_run and start == 0
        if len(chunk) == 1:
            body, kind = dumps_event(first, inputs_in_run=kept), type(first).__name__
        else:
            body, kind = dumps_events(chunk, inputs_in_run=kept), "batch"
        rows.append((run_id, first.seq, chunk[-1].seq, kind, first.ts, body))
    return rows


def parse_rows(
    rows: Iterable[tuple[int, str | bytes]], after: int, where: Callable[[int], str]
) -> list[tuple[int, dict[str, Any]]]:
    """The events of ``rows`` (``(seq, body)``, in order) numbered after ``after``, each
    as ``(seq, its JSON object)``, not decoded yet. ``where(seq)`` names an event in
    errors."""
    out: list[tuple[int, dict[str, Any]]] = []
    for seq, body in rows:
        try:
            found = parse_events(body)
        except StoreError as exc:
            raise StoreError(f"{where(seq)} cannot be read: {exc}") from None
        previous = seq - 1
        for i, data in enumerate(found):  # the row's first event is its seq, then rising
            number = data.get("seq")
            if type(number) is not int or number <= previous or (i == 0 and number != seq):
                raise StoreError(
                    f"{where(seq)} cannot be read: its row holds event #{number!r} after "
                    f"#{previous} (corrupted log?)"
                )
            previous = number
            if number > after:
                out.append((number, data))
    return out


def decode_rows(
    run_id: str,
    parsed: Sequence[tuple[int, dict[str, Any]]],
    inputs: Mapping[str, Any] | None,
    where: Callable[[int], str],
) -> list[Event]:
    """The events of :func:`parse_rows`, each checked to be the event of this run and
    seq that its place in the log says. ``inputs``: the run record's (see
    :func:`plait.runtime.needs_run_inputs`)."""
    out: list[Event] = []
    for seq, data in parsed:
        try:
            event = decode_event(data, inputs)
        except (StoreError, TypeError, ValueError) as exc:
            raise StoreError(f"{where(seq)} cannot be read: {exc}") from None
        if event.run_id != run_id or event.seq != seq:
            raise StoreError(
                f"{where(seq)} holds event #{event.seq} of run {event.run_id} (corrupted log?)"
            )
        out.append(event)
    return out
