"""``plait worker``: finish runs whose process died, and waiting runs that can go on."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from plait.cli._console import console as new_console
from plait.cli._errors import reported
from plait.cli._runs import AllowOpt, Debug, StoreOpt, _debugging
from plait.core import mask_secrets, mask_url

if TYPE_CHECKING:
    from plait.engine import Recovered


def _report(console: Console, result: Recovered) -> None:
    if result.error:
        console.print(Text(f"✗ looking for runs failed: {mask_secrets(result.error)}", style="red"))
    for run_id in result.completed:
        console.print(Text(f"✓ run {run_id} recovered and completed", style="green"))
    for run_id in result.waiting:
        console.print(Text(f"⏸ run {run_id} went on and waits for input again", style="yellow"))
    for run_id, why in result.failed.items():
        console.print(Text(f"✗ run {run_id}: {mask_secrets(why)}", style="red"))
    for run_id, why in result.skipped.items():
        console.print(Text(f"· run {run_id} skipped: {mask_secrets(why)}", style="bright_black"))


def worker(
    ctx: typer.Context,
    store: StoreOpt = None,
    allow: AllowOpt = None,
    once: Annotated[
        bool, typer.Option("--once", help="Look once, recover what is due, and exit.")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between looks (0.1 or more).")
    ] = 5.0,
    debug: Debug = False,
) -> None:
    """Recover runs nobody runs any more: runs whose process died (their lease ran out, or
    their process is gone from this machine) and waiting runs that were answered or whose
    wait timed out. Several workers may run at once: each run is taken by exactly one.
    Run it where the flows' code imports (the folder you run them from); a run whose
    stored plan names a file loads only from the files and folders given with --allow or
    $PLAIT_ALLOW_PATHS. A run that cannot go on is reported and the others recovered."""
    from plait.cli._run import store_url
    from plait.cli._runs import _flow_of
    from plait.engine import recover, work

    if not interval >= 0.1:
        raise typer.BadParameter(
            f"{interval:g} is too short; give 0.1 s or more", param_hint="'--interval'"
        )
    debug = _debugging(ctx, debug)
    url = store_url(store)
    console = new_console()
    allowed = list(allow or ())

    def load(record: Any) -> Any:
        return _flow_of(record, allowed, files_here=False)  # unattended: --allow only

    with reported(debug):
        if once:
            result = asyncio.run(recover(url, load=load))
            _report(console, result)
            looked = len(result.completed) + len(result.waiting) + len(result.failed)
            if not looked:
                console.print(Text(f"nothing to recover in {mask_url(url)}", style="bright_black"))
            if result.failed:
                raise typer.Exit(1)
            return
        console.print(
            Text(f"plait worker: watching {mask_url(url)} every {interval:g} s", style="bold")
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                work(url, interval=interval, load=load, on_pass=lambda r: _report(console, r))
            )
