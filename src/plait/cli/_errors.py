"""How the CLI reports failures: one red paragraph on stderr and exit 1; tracebacks only
with ``--debug``. Passwords in URLs are masked in both."""

from __future__ import annotations

import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text

from plait.core import PlaitError, PlanError, WaitingForInput, mask_secrets

_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)
"""click's ClickException, taken from typer (typer 0.2x ships its own click and no longer
installs the ``click`` package; older ones use that package): usage errors, exit 2."""


def stderr() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def print_error(message: str, *, title: str = "Error", bullets: Sequence[str] = ()) -> None:
    text = Text(f"{title}: ", style="bold red")
    text.append(mask_secrets(message), style="red")
    for line in bullets:
        text.append("\n  • ", style="red")
        text.append(mask_secrets(line))
    stderr().print(text)


def print_traceback(exc: BaseException) -> None:
    lines = "".join(traceback.format_exception(exc))
    stderr().print(Text(mask_secrets(lines), style="bright_black"))


@contextmanager
def reported(debug: bool) -> Iterator[None]:
    """Turn errors into a message and exit code 1 (and a traceback with ``debug``).

    Anything a step raises lands here, ``BaseException`` too (``SystemExit``, a user's
    ``class Stop(BaseException)``, ``CancelledError``); Ctrl-C exits 130.
    """
    try:
        yield
    except (typer.Exit, typer.Abort, _USAGE_ERROR):  # usage errors: exit 2
        raise
    except KeyboardInterrupt as exc:
        if debug:
            print_traceback(exc)
        print_error("interrupted", title="Cancelled")
        raise typer.Exit(130) from None
    except PlanError as exc:
        if debug:
            print_traceback(exc)
        count = len(exc.problems)
        noun = "problem" if count == 1 else "problems"
        print_error(
            f"{exc.kind} {exc.name!r} has {count} {noun}:", title="Invalid", bullets=exc.problems
        )
        raise typer.Exit(1) from None
    except WaitingForInput as exc:
        print_error(str(exc), title="Waiting")
        raise typer.Exit(3) from None
    except PlaitError as exc:
        if debug:
            print_traceback(exc)
        print_error(str(exc), title=type(exc).__name__)
        raise typer.Exit(1) from None
    except BaseException as exc:
        if debug:
            print_traceback(exc)
        hint = "" if debug else " (run with --debug for the traceback)"
        print_error(f"{type(exc).__name__}: {exc}{hint}", title="Unexpected error")
        raise typer.Exit(1) from None
