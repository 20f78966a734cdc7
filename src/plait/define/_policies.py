"""Per-step policies: small value objects instead of many keyword arguments."""

from __future__ import annotations

import random
from dataclasses import dataclass

from plait.core import DefinitionError

DEFAULT_MAX_CALLS = 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry a failing step.

    ``attempts`` counts the first try: ``RetryPolicy(attempts=3)`` runs a step at most three
    times. Waits grow exponentially from ``backoff`` seconds by ``multiplier`` up to
    ``max_backoff``, each scaled by a random factor in ``[1 - jitter, 1]``. Only exceptions
    that are instances of ``retry_on`` are retried.
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

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise DefinitionError(f"a step timeout must be > 0 seconds, got {self.timeout}")
        if self.max_calls is not None and self.max_calls < 1:
            raise DefinitionError(f"max_calls must be >= 1, got {self.max_calls}")
