"""What model calls cost: a price table in USD per million tokens, input and output.

The table starts with a few well-known models and can be changed with
:func:`set_prices` or ``PLAIT_PRICES`` (a JSON file ``{"model": [input, output]}``).
Local and scripted models cost nothing; a model not in the table has no cost (None).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from plait.core import PlaitError

_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "claude-3-5-haiku-latest": (0.80, 4.00),
    "claude-3-5-sonnet-latest": (3.00, 15.00),
    "claude-sonnet-4-0": (3.00, 15.00),
}
_FREE = frozenset({"local", "scripted"})
_loaded_env = False


def set_prices(prices: dict[str, tuple[float, float]]) -> None:
    """Add or replace prices: ``{"model": (usd_per_million_input, usd_per_million_output)}``.
    A key may be ``"provider:model"`` to price one provider's model only."""
    for name, pair in prices.items():
        if (
            not isinstance(pair, tuple | list)
            or len(pair) != 2
            or any(not isinstance(p, int | float) or p < 0 for p in pair)
        ):
            raise PlaitError(f"price of {name!r} must be (input, output) USD per 1M tokens")
        _PRICES[name] = (float(pair[0]), float(pair[1]))


def _load_env() -> None:
    global _loaded_env
    path = os.environ.get("PLAIT_PRICES")
    if path:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise PlaitError(
                f"PLAIT_PRICES={path!r}: cannot read a JSON price table ({exc})"
            ) from None
        shape = 'a JSON object {"model": [usd_per_million_input, usd_per_million_output]}'
        if not isinstance(data, dict) or not all(
            isinstance(v, list) and len(v) == 2 for v in data.values()
        ):
            raise PlaitError(f"PLAIT_PRICES={path!r} must hold {shape}")
        set_prices({k: (v[0], v[1]) for k, v in data.items()})
    _loaded_env = True


def cost(provider: str, model: str, input_tokens: int, output_tokens: int) -> float | None:
    """USD for one call, or None when the model has no price."""
    if not _loaded_env:
        _load_env()
    if provider in _FREE:
        return 0.0
    price = _PRICES.get(f"{provider}:{model}") or _PRICES.get(model)
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000
