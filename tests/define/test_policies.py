"""RetryPolicy: which errors earn another try, and how long to wait."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plait import DefinitionError, RetryPolicy


def test_attempts_count_the_first_try() -> None:
    policy = RetryPolicy(attempts=3)
    assert policy.should_retry(ValueError(), 1)
    assert policy.should_retry(ValueError(), 2)
    assert not policy.should_retry(ValueError(), 3)


def test_only_listed_errors_are_retried() -> None:
    policy = RetryPolicy(attempts=5, retry_on=(ConnectionError, TimeoutError))
    assert policy.should_retry(ConnectionResetError(), 1)  # a subclass
    assert policy.should_retry(TimeoutError(), 1)
    assert not policy.should_retry(ValueError(), 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"backoff": -1},
        {"max_backoff": -1},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"jitter": -0.1},
    ],
)
def test_bad_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(DefinitionError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_delay_without_jitter_grows_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(backoff=1.0, multiplier=2.0, max_backoff=5.0, jitter=0.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


@given(
    backoff=st.floats(0, 10),
    multiplier=st.floats(1, 4),
    cap=st.floats(0, 60),
    jitter=st.floats(0, 1),
    attempt=st.integers(1, 20),
)
def test_delay_stays_within_its_bounds(
    backoff: float, multiplier: float, cap: float, jitter: float, attempt: int
) -> None:
    policy = RetryPolicy(backoff=backoff, multiplier=multiplier, max_backoff=cap, jitter=jitter)
    base = min(cap, backoff * multiplier ** (attempt - 1))
    delay = policy.delay(attempt)
    assert base * (1 - jitter) - 1e-9 <= delay <= base + 1e-9


def test_policy_is_a_frozen_value() -> None:
    assert RetryPolicy(attempts=2) == RetryPolicy(attempts=2)
    assert hash(RetryPolicy(attempts=2)) == hash(RetryPolicy(attempts=2))
    with pytest.raises(AttributeError):
        RetryPolicy().attempts = 5  # type: ignore[misc]
