"""``plait runs rerun``: run a step again after a code fix, reusing everything else."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from plait.cli._console import console as new_console
from plait.cli._errors import reported
from plait.cli._runs import (
    AllowOpt,
    Debug,
    RunId,
    StoreOpt,
    _debugging,
    _no_run,
    _with_store,
    definition_for,
    runs,
)


@runs.command()
def rerun(
    ctx: typer.Context,
    run_id: RunId,
    step: Annotated[str, typer.Option("--from", help="The step to run again.", metavar="STEP")],
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[TARGET]",
            help="path/to/file.py:Name or package.module:Name (default: the flow class "
            "the stored run names)",
        ),
    ] = None,
    invocation: Annotated[
        int,
        typer.Option(help="Which invocation of STEP (a step in a loop runs many).", min=1),
    ] = 1,
    go_on: Annotated[
        bool,
        typer.Option("--resume/--no-resume", help="Run the new run now (default) or later."),
    ] = True,
    store: StoreOpt = None,
    allow: AllowOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, as plait run --json does.")
    ] = False,
    debug: Debug = False,
) -> None:
    """Re-run a run from STEP after fixing its code: a new run reuses every result that
    does not depend on STEP and runs STEP and what it sets off again. The original run is
    not changed."""
    from plait.cli._run import go_on_with, store_url
    from plait.engine import rerun_from

    debug = _debugging(ctx, debug)
    url = store_url(store)
    console = new_console()
    with reported(debug):
        record = _with_store(url, lambda s: s.get_run(run_id))
        if record is None:
            raise _no_run(run_id, url)
        definition = definition_for(target, record, allow)
        new_id = _with_store(
            url,
            lambda s: rerun_from(definition, run_id, step, invocation=invocation, store=s),
        )
        if not as_json:
            line = Text(f"✓ run {run_id} again from {step!r} as ", style="green")
            console.print(line.append(new_id, style="bold green"))
        go_on_with(
            definition,
            new_id,
            store=url,
            now=go_on,
            console=console,
            as_json=as_json,
            debug=debug,
            title=new_id,
        )
