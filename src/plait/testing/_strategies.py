"""Hypothesis strategies for stored values (``plait[dev]`` installs hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from plait.testing._conformance_values import LOOKALIKES, Colour, Level, Point, Stamped

_TAG_KEYS = ["$tuple", "$bytes", "$model", "data", "$set", "$map", "$enum", "$", "$$x", "$$"]

_zones = (
    st.none()
    | st.just(dt.UTC)
    | st.builds(
        lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)), st.integers(-1439, 1439)
    )
)

_hashable: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(),
    st.binary(max_size=20),
    st.decimals(allow_nan=False),
    st.uuids(),
    st.dates(),
    st.sampled_from(Colour),
    st.sampled_from(Level),
)

_leaves: st.SearchStrategy[Any] = st.one_of(
    _hashable,
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=False),
    st.datetimes(timezones=_zones),
    st.times(),
    st.timedeltas(),
    st.builds(
        Stamped,
        when=st.datetimes(timezones=_zones),
        amount=st.decimals(allow_nan=False, allow_infinity=False),
        tags=st.sets(st.text(max_size=5), max_size=3),
        pair=st.tuples(st.integers(), st.text(max_size=5)),
        colour=st.sampled_from(Colour),
    ),
    st.builds(Point, x=st.integers(), y=st.floats(allow_nan=False), meta=st.none() | st.dates()),
    st.sampled_from(LOOKALIKES),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.text(max_size=8) | st.sampled_from(_TAG_KEYS)
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(st.integers(), children, max_size=4),
        st.dictionaries(_hashable, children, max_size=3),
        st.sets(_hashable, max_size=4),
        st.frozensets(_hashable, max_size=4),
        st.builds(Point, x=st.integers(), y=st.just(0.5), meta=children),
    )


def values() -> st.SearchStrategy[Any]:
    """Nested values of every kind the stores must give back exactly."""
    return st.recursive(_leaves, _containers, max_leaves=20)
