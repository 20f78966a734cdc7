"""L6: the ``plait`` command line (``run``, ``plot``, ``validate``).

Imported only through the console script, so ``import plait`` never pays for typer or
rich. ``main()`` is the entry point named in ``pyproject.toml``.
"""

from __future__ import annotations


def main() -> None:
    """Run the ``plait`` command line."""
    from plait.cli._app import app

    app(prog_name="plait")


__all__ = ["main"]
