"""What every store does the same way: values, leases, the step cache.

Values (run inputs, cache entries) are stored as the JSON text of
:func:`~plait.runtime.value_to_text`, the codec events use, so what went in comes back
(models, tuples, sets, datetimes, …), and a value that cannot be stored fails before
anything is written. Each stored value has a format number beside it (format 1: written
by plait before format 2), so old rows still read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from plait.core import StoreError
from plait.runtime import (
    VALUE_FORMAT,
    Event,
    RunRecord,
    RunStarted,
    same_inputs,
    value_from_text,
    value_to_text,
)

log = logging.getLogger("plait")

CORRUPT = "corrupt"
"""The status ``list_runs`` gives a run whose stored record cannot be read; its
``error`` says what is wrong (see :func:`listed_record`)."""

_FIELD_KINDS: tuple[tuple[str, str, Callable[[object], bool]], ...] = (
    ("flow", "a string", lambda v: isinstance(v, str)),
    ("status", "a string", lambda v: isinstance(v, str)),
    ("created_at", "a number", lambda v: _is_number(v)),
    ("updated_at", "a number", lambda v: _is_number(v)),
    ("inputs", "a mapping", lambda v: isinstance(v, dict)),
    ("plan", "a mapping or null", lambda v: v is None or isinstance(v, dict)),
    ("error", "a string", lambda v: isinstance(v, str)),
    ("owner", "a string", lambda v: isinstance(v, str)),
    ("lease_until", "a number", lambda v: _is_number(v)),
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _problem(build: Callable[[], RunRecord]) -> tuple[RunRecord | None, str]:
    """The record ``build`` reads, checked field by field, or what is wrong with it."""
    try:
        record = build()
        for name, kind, ok in _FIELD_KINDS:
            value = getattr(record, name)
            if not ok(value):
                return None, f"its {name} is {value!r}, not {kind}"
    except (StoreError, TypeError, ValueError, KeyError, RecursionError) as exc:
        return None, str(exc) or repr(exc)
    return record, ""


def read_record(where: str, run_id: object, build: Callable[[], RunRecord]) -> RunRecord:
    """The record ``build`` reads from a stored row, checked field by field; StoreError
    naming ``where`` (the store) and the run when the row is corrupted."""
    record, problem = _problem(build)
    if record is None:
        raise StoreError(
            f"{where}: the record of run {run_id} is corrupted ({problem}); fix or delete that run"
        )
    return record


def listed_record(
    where: str, run_id: object, flow: object, build: Callable[[], RunRecord]
) -> RunRecord:
    """What ``list_runs`` shows of a stored row: its record, or, when the row is
    corrupted, a record with status :data:`CORRUPT` whose ``error`` says what is wrong, so
    that one bad run neither hides the others nor fails the listing (a warning names it)."""
    record, problem = _problem(build)
    if record is not None:
        return record
    log.warning("plait: %s: the record of run %s is corrupted (%s)", where, run_id, problem)
    return RunRecord(
        run_id=str(run_id),
        flow=flow if isinstance(flow, str) else "?",
        status=CORRUPT,
        error=f"corrupted record: {problem}",
    )


def dumps_value(key: str, value: Any) -> str:
    """``value`` for cache key ``key`` as JSON text; StoreError naming the key and the
    field if it cannot be stored."""
    return value_to_text(value, f"cache key {key!r}: value")


def loads_value(key: str, text: str | bytes, format: int = VALUE_FORMAT) -> Any:
    """The inverse of :func:`dumps_value`; StoreError when the stored text is corrupted."""
    return value_from_text(text, f"the cached value of key {key!r}", format)


class FreshInputs:
    """The inputs of runs this store created and has no events of yet, so that their
    ``RunStarted`` need not store the same inputs again (see
    :func:`~plait.runtime.same_inputs`)."""

    def __init__(self) -> None:
        self._inputs: dict[str, Mapping[str, Any]] = {}

    def created(self, run_id: str, inputs: Mapping[str, Any]) -> None:
        if inputs:
            self._inputs[run_id] = inputs

    def kept_with_run(self, run_id: str, events: Sequence[Event]) -> bool:
        """Whether the first of ``events`` is the run's ``RunStarted`` with the very
        inputs its record holds (then it is stored without them)."""
        if not events or events[0].seq != 1:
            return False
        inputs = self._inputs.get(run_id)
        first = events[0]
        return (
            inputs is not None
            and isinstance(first, RunStarted)
            and same_inputs(inputs, first.inputs)
        )

    def stored(self, run_id: str, events: Sequence[Event]) -> None:
        """``events`` are stored: once the run has a ``RunStarted``, its inputs are no
        longer needed here."""
        if events and events[0].seq == 1:
            self._inputs.pop(run_id, None)

    def forget(self, run_id: str | None = None) -> None:
        if run_id is None:
            self._inputs.clear()
        else:
            self._inputs.pop(run_id, None)


def expires_at(now: float, ttl: float | None) -> float | None:
    """When an entry put at ``now`` with ``ttl`` expires (None: never)."""
    if ttl is None:
        return None
    if math.isnan(ttl):
        raise ValueError("cache ttl must be a number of seconds or None, not NaN")
    return now + ttl


def is_live(expiry: float | None, now: float) -> bool:
    """Whether an entry expiring at ``expiry`` is still there at ``now``."""
    return expiry is None or now < expiry


def check_lease(owner: str, ttl: float | None = None) -> None:
    """Refuse an owner that names nobody, or a ttl that is not a number."""
    if not isinstance(owner, str) or not owner:
        raise ValueError(f"a lease owner must be a non-empty string, not {owner!r}")
    if ttl is not None and math.isnan(ttl):
        raise ValueError("a lease ttl must be a number of seconds, not NaN")
