"""Durations written the short way: ``90s``, ``30m``, ``12h``, ``7d``, ``2w``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")


def parse_duration(text: str) -> float:
    """Seconds in ``7d``, ``12h``, ``30m``, ``90s`` (or ``2w``); ValueError otherwise."""
    match = _DURATION.fullmatch(text.lower())
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit: 90s, 30m, 12h, 7d or 2w"
        )
    return float(match[1]) * _UNITS[match[2]]
