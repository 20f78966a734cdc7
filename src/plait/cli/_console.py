"""The consoles the commands print to: as wide as the terminal, and wide when piped, so
that tables are not cut at 80 columns in a file or a pipe; lines of text are never
broken (a command to copy stays one line)."""

from __future__ import annotations

import os

from rich.console import Console

PIPED_WIDTH = 240
"""Columns a table may take when output goes to a file or a pipe (``$COLUMNS`` wins)."""


def console(*, stderr: bool = False, soft_wrap: bool = True) -> Console:
    """A console for stdout (or stderr): a terminal's own width; when not a terminal,
    ``$COLUMNS`` or :data:`PIPED_WIDTH` columns."""
    out = Console(stderr=stderr, highlight=False, soft_wrap=soft_wrap)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out.width = PIPED_WIDTH
    return out
