"""A step's own events are written by plait.runtime._codec_steps: the very dicts, and so
the very JSON, that the general field-by-field encoder writes, for any value."""

from __future__ import annotations

import datetime
import decimal
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plait.core import StoreError
from plait.runtime import (
    RouteTaken,
    StateChanged,
    StepCompleted,
    StepStarted,
    dumps_event,
    encode_event,
)
from plait.runtime._codec import _dumps, _encode_fields
from plait.runtime._codec_steps import STEP_ENCODERS

AWKWARD: list[Any] = [
    None,
    True,
    0,
    -7,
    1 << 62,
    -(1 << 62),
    1 << 70,
    10**300,
    1.5,
    math.nan,
    math.inf,
    -math.inf,
    "plain",
    "non-ascii é",
    "\ud800",
    "",
    [],
    [1, "a", None],
    {},
    {"a": 1},
    {"$tuple": [1]},
    {"$bytes": "abc"},
    {"é": 1},
    {1: "int key"},
    {"deep": {"deeper": [{"$x": 1}]}},
    (1, 2),
    (),
    {1, 2},
    b"bytes",
    datetime.datetime(2026, 12, 5, 3, 0),
    decimal.Decimal("1.10"),
]

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        | st.tuples(inner, inner)
    ),
    max_leaves=8,
)


def _events(value: Any) -> list[Any]:
    label = value if isinstance(value, str) else "go"
    patch = value if isinstance(value, dict) else {"k": value}  # its keys at the top
    return [
        StepStarted(run_id="r", seq=1, ts=1.0, step="s", invocation=2, attempt=3),
        StepCompleted(
            run_id="r", seq=2, ts=1.5, step="s", invocation=2, output=value, duration=0.1
        ),
        StateChanged(run_id="r", seq=3, ts=2.0, step="s", changes={"k": value, "n": 1}),
        StateChanged(run_id="r", seq=4, ts=2.0, step="s", changes={"k": value}, removed=("x",)),
        StateChanged(run_id="r", seq=5, ts=2.0, step="s", changes=patch),
        RouteTaken(run_id="r", seq=6, ts=2.5, step="s", invocation=2, label=label),
    ]


def _same(event: Any) -> None:
    try:
        want = _encode_fields(event, False)
    except StoreError as exc:
        with pytest.raises(StoreError) as info:
            encode_event(event)
        assert str(info.value) == str(exc)
        return
    got = encode_event(event)
    assert got == want
    assert list(got) == list(want)  # the same keys in the same order: the same JSON text
    assert dumps_event(event) == _dumps(want, event)


@pytest.mark.parametrize("value", AWKWARD, ids=repr)
def test_a_steps_events_encode_as_the_general_encoder_does(value: Any) -> None:
    for event in _events(value):
        _same(event)


@given(_json)
def test_generated_values_encode_as_the_general_encoder_does(value: Any) -> None:
    for event in _events(value):
        _same(event)


def test_plain_values_take_the_short_path() -> None:
    for event in _events(3):
        if isinstance(event, StateChanged) and event.removed:
            assert STEP_ENCODERS[StateChanged](event) is None  # the codec tags the tuple
        else:
            assert STEP_ENCODERS[type(event)](event) is not None, event
