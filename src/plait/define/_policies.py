"""Per-step policies: small value objects instead of many keyword arguments."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plait.core import DefinitionError

DEFAULT_MAX_CALLS = 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry a failing step or model call.

    ``attempts`` counts the first try: ``RetryPolicy(attempts=3)`` runs a step at most three
    times. ``retry=N`` on a step and ``Model(retry=N)`` both mean ``attempts=N`` — N tries
    in all, so ``retry=1`` never retries; a ``Model`` takes a whole policy too (and retries
    only the failures its provider calls retryable, and timeouts). Waits grow exponentially
    from ``backoff`` seconds by ``multiplier`` up to ``max_backoff``, each scaled by a
    random factor in ``[1 - jitter, 1]``. Only exceptions that are instances of
    ``retry_on`` are retried.
    """

    attempts: int = 3
    backoff: float = 0.1
    multiplier: float = 2.0
    max_backoff: float = 30.0
    jitter: float = 0.5
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise DefinitionError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}")
        if self.backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise DefinitionError(
                "RetryPolicy needs backoff >= 0, max_backoff >= 0 and multiplier >= 1"
            )
        if not 0 <= self.jitter <= 1:
            raise DefinitionError(f"RetryPolicy.jitter must be in [0, 1], got {self.jitter}")

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """Whether ``exc`` raised by try number ``attempt`` (1-based) earns another try."""
        return attempt < self.attempts and isinstance(exc, self.retry_on)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        base = min(self.max_backoff, self.backoff * self.multiplier ** (attempt - 1))
        return base * (1 - self.jitter * random.random())


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Reuse a step's result instead of running it again.

    The cache key is a hash of the step's code (its source), ``version``, and its inputs:
    the arguments it is called with and the run's state (without the run id). Pass
    ``key=`` to choose the inputs yourself: ``key(state, *args)`` returns JSON data, e.g.
    ``key=lambda state, *_: state["topic"]``. A hit skips the step, puts back the state
    changes it made, returns its stored output and shows as ``CacheHit`` in the events.
    Entries expire after ``ttl`` seconds (never when None) and live in the run's store,
    shared by every run that uses it — so a durable store (or one ``MemoryStore`` object
    shared across runs) makes the cache outlive a run. Bump ``version`` to drop old entries
    by hand; a change to the step's code does that by itself.
    """

    ttl: float | None = None
    key: Callable[..., Any] | None = None
    version: str = ""

    def __post_init__(self) -> None:
        if self.ttl is not None and not self.ttl > 0:
            raise DefinitionError(f"CachePolicy.ttl must be > 0 seconds or None, got {self.ttl}")
        if self.key is not None and not callable(self.key):
            raise DefinitionError(f"CachePolicy.key must be a function, got {self.key!r}")


def cache_policy(cache: CachePolicy | bool | float | None) -> CachePolicy | None:
    """``cache=`` of a step decorator as a policy: True caches for ever, a number of
    seconds is the ttl, False/None does not cache."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return CachePolicy()
    if isinstance(cache, CachePolicy):
        return cache
    if isinstance(cache, int | float):
        return CachePolicy(ttl=float(cache))
    raise DefinitionError(f"cache must be True, a ttl in seconds or a CachePolicy, got {cache!r}")


@dataclass(frozen=True, slots=True)
class StepOptions:
    """How a step runs: retries, timeout (seconds, per attempt) and its call limit
    (``None``: the flow's ``max_calls``).

    A timeout cancels an ``async def`` step. A ``def`` step runs in a thread, which Python
    cannot stop: on timeout the run stops waiting for it, but the thread finishes its work
    in the background (and a retry starts while it does). Give blocking work its own
    timeout (an HTTP client's, say), or make the step async.
    """

    retry: RetryPolicy | None = None
    timeout: float | None = None
    max_calls: int | None = None
    writes: tuple[str, ...] | None = None
    labels: tuple[str, ...] | None = None
    cache: CachePolicy | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise DefinitionError(f"a step timeout must be > 0 seconds, got {self.timeout}")
        if self.max_calls is not None and self.max_calls < 1:
            raise DefinitionError(f"max_calls must be >= 1, got {self.max_calls}")
