"""Shared test settings.

Async tests call ``asyncio.run(...)`` themselves (no pytest-asyncio). Hypothesis runs a
modest number of examples without a deadline so the suite stays fast and steady.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "plait",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("plait")
