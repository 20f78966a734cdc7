"""Identifiers."""

from __future__ import annotations

import os
import time


def new_run_id() -> str:
    """A sortable, unique run id: 12 hex digits of milliseconds then 12 random hex digits."""
    return f"{int(time.time() * 1000):012x}{os.urandom(6).hex()}"
