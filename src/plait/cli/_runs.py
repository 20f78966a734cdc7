"""``plait runs list|show|resume|prune``: stored runs, read from a store URL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from rich.text import Text

from plait.cli._console import console as new_console
from plait.cli._errors import print_error, reported
from plait.core import mask_url, parse_duration
from plait.runtime import RunRecord, Store
from plait.stores import CORRUPT

T = TypeVar("T")

runs = typer.Typer(
    help="List, show, resume and prune stored runs (default store: $PLAIT_STORE, else "
    "sqlite:///.plait/runs.db in the current directory).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL (default: $PLAIT_STORE, else sqlite:///.plait/runs.db).",
        metavar="URL",
    ),
]
AllowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow",
        metavar="PATH",
        help="A file or folder whose code a stored run may name by path (repeatable; also "
        "$PLAIT_ALLOW_PATHS, separated by ':'). Stored module references "
        "(package.module:Class) import without it; other paths are refused.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON and nothing else on stdout.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]
RunId = Annotated[str, typer.Argument(metavar="RUN_ID", help="The run's id.")]

STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "running": "cyan",
    "waiting": "yellow",
    "cancelled": "bright_black",
    CORRUPT: "bold red",
}


def _debugging(ctx: typer.Context, debug: bool) -> bool:
    return debug or bool(ctx.find_root().obj)


def _with_store(url: str, use: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store at ``url``, ``await use(store)``, close it (a SQLite file that
    does not exist is not created: a StoreError says so)."""
    from plait.cli._run import require_store

    require_store(url)
    from plait.engine import owned_store

    async def go() -> T:
        async with owned_store(url) as store:
            return await use(store)

    return asyncio.run(go())


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "—"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _no_run(run_id: str, url: str) -> typer.Exit:
    print_error(
        f"no run {run_id} in {mask_url(url)}; check the run id (plait runs list) and --store / "
        "PLAIT_STORE",
        title="Unknown run",
    )
    return typer.Exit(1)


@runs.command("list")
def list_(
    ctx: typer.Context,
    store: StoreOpt = None,
    flow: Annotated[str | None, typer.Option(help="Only runs of this flow.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only runs with this status (running, completed, failed, …)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only runs created since then: a duration ago (7d, 12h, 30m) or a date/time "
            "(2026-11-24, 2026-11-24T09:30).",
            metavar="WHEN",
        ),
    ] = None,
    before: Annotated[
        str | None,
        typer.Option(help="Only runs created before then (as --since).", metavar="WHEN"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most N runs.", metavar="N")] = 50,
    as_json: Json = False,
    debug: Debug = False,
) -> None:
    """List stored runs, newest first. A running run whose process is gone shows as
    "running (stale)": plait worker or plait runs resume finishes it."""
    from plait.cli._run import store_url
    from plait.engine import run_status

    url = store_url(store)
    start, end = _moment(since, "--since"), _moment(before, "--before")
    with reported(_debugging(ctx, debug)):
        records = _with_store(
            url,
            lambda s: s.list_runs(flow=flow, status=status, limit=limit, since=start, before=end),
        )
    if as_json:
        from plait.engine import record_doc

        typer.echo(json.dumps([record_doc(r) for r in records], ensure_ascii=False))
        return
    console = new_console()
    table = Table(title=f"Runs in {mask_url(url)}", title_justify="left")
    widest = max((len(r.flow) for r in records), default=4)
    table.add_column(
        "run id", no_wrap=True, min_width=max((len(r.run_id) for r in records), default=6)
    )
    table.add_column("flow", no_wrap=True, min_width=min(widest, 24), overflow="ellipsis")
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("created", no_wrap=True, min_width=16)
    table.add_column("updated", no_wrap=True, min_width=16)
    table.add_column("error", overflow="fold")
    now = time.time()
    for r in records:
        corrupt = r.status == CORRUPT  # a row the store cannot read: say what is wrong
        table.add_row(
            Text(r.run_id),
            Text(r.flow),
            Text(run_status(r, now), style=STATUS_STYLES.get(r.status, "")),
            "?" if corrupt else _when(r.created_at),
            "?" if corrupt else _when(r.updated_at),
            Text(r.error if corrupt else _short(_first_line(r.error)), style="red"),
        )
    if not records:
        console.print(Text(f"no runs in {mask_url(url)}", style="bright_black"))
        return
    console.print(table)


@runs.command()
def show(
    ctx: typer.Context,
    run_id: RunId,
    store: StoreOpt = None,
    as_json: Json = False,
    debug: Debug = False,
) -> None:
    """Show a stored run: its record, timeline, and output or error."""
    from plait.cli._run import code_args, jsonable, resume_hint, store_hint, store_url
    from plait.cli._timeline import render_timeline
    from plait.engine import STALE, is_live, run_doc, run_output, run_status, stored_ref

    url = store_url(store)

    from plait.engine import find_run

    with reported(_debugging(ctx, debug)):
        found = _with_store(url, lambda s: find_run(s, run_id))
    if found is None:
        raise _no_run(run_id, url)
    record, events = found.record, found.events
    now = time.time()
    if as_json:
        typer.echo(json.dumps(run_doc(record, events, now=now), ensure_ascii=False))
        return
    status = run_status(record, now)
    console = new_console()
    head = Text(f"run {record.run_id}", style="bold")
    head.append(f"  {record.flow}  ")
    head.append(status, style=STATUS_STYLES.get(record.status, ""))
    console.print(head)
    console.print(
        Text(
            f"created {_when(record.created_at)} · updated {_when(record.updated_at)} · "
            f"{len(events)} events · {mask_url(url)}",
            style="bright_black",
        )
    )
    if record.inputs:
        console.print(Text("inputs: ", style="bold").append(json.dumps(jsonable(record.inputs))))
    if events:
        render_timeline(events, console, live=is_live(record, now))
    if record.status == "completed":
        from plait.cli._run import _readable

        console.print(Text("Result", style="bold"))
        console.print(_readable(run_output(events)))
    if record.error:
        console.print(Text("Error: ", style="bold red").append(record.error, style="red"))
    code = code_args(stored_ref(record))
    if record.status == "waiting":
        from plait.runtime import pending

        for ask in pending(events):
            line = Text(f"waits for: {ask.step}: ", style="yellow").append(ask.prompt, style="")
            console.print(line)
        answer = f"plait runs respond {record.run_id}{code} --value ...{store_hint(url)}"
        console.print(Text(f"answer with: {answer}", style="bright_black"))
    elif status == STALE or record.status in ("failed", "cancelled"):
        hint = resume_hint(record.run_id, store=url, code=code)
        console.print(Text(f"go on with: {hint}", style="bright_black"))
    elif record.status == "running":
        console.print(Text("a process runs it now", style="bright_black"))


def _flow_of(record: RunRecord, allow: list[str] | None = None, *, files_here: bool = True) -> Any:
    """The flow class run ``record``'s stored plan names, through the engine's loader:
    a module that imports from here, or a file on the allow-list (``--allow``,
    ``$PLAIT_ALLOW_PATHS``; with ``files_here``, the current folder too), never a path
    taken from the store as it is."""
    from plait.engine import load_definition

    return load_definition(record, allow=allow or (), here=True, files_here=files_here)


def definition_for(target: str | None, record: RunRecord, allow: list[str] | None) -> Any:
    """The flow TARGET names (typed by the operator: any file or module), else the one
    the stored run names (see :func:`_flow_of`)."""
    from plait.engine import load_target

    return load_target(target) if target else _flow_of(record, allow)


@runs.command("resume")
def resume_(
    ctx: typer.Context,
    run_id: RunId,
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[TARGET]",
            help="path/to/file.py:Name or package.module:Name (default: the flow class "
            "the stored run names)",
        ),
    ] = None,
    store: StoreOpt = None,
    allow: AllowOpt = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object, as plait run --json does."),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the result (or the error).")
    ] = False,
    debug: Debug = False,
) -> None:
    """Go on with a stored run that failed or was interrupted; completed steps do not run
    again."""
    from plait.cli._progress import RunProgress
    from plait.cli._run import resume, show_outcome, store_url

    debug = _debugging(ctx, debug)
    url = store_url(store)
    console = new_console()
    with reported(debug):
        record = _with_store(url, lambda s: s.get_run(run_id))
        if record is None:
            raise _no_run(run_id, url)
        definition = definition_for(target, record, allow)
        live = console.is_terminal and not (quiet or as_json)
        progress = RunProgress(console, enabled=live, title=f"resume {run_id}")
        show_outcome(
            lambda: resume(definition, run_id, store=url, progress=progress),
            console,
            store=url,
            as_json=as_json,
            quiet=quiet,
            debug=debug,
            target=target or "",
        )


def _moment(text: str | None, option: str) -> float | None:
    """Epoch seconds for ``--since``/``--before``: a duration ago, or a date/time."""
    if text is None:
        return None
    try:
        return time.time() - parse_duration(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a duration (7d, 12h, 30m) nor a date/time (2026-11-24, "
            "2026-11-24T09:30)",
            param_hint=f"'{option}'",
        ) from None


def _duration(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--older-than'") from None


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


@runs.command()
def prune(
    ctx: typer.Context,
    store: StoreOpt = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Only runs last updated longer ago than this (90s, 30m, 12h, 7d, 2w).",
            metavar="AGE",
        ),
    ] = None,
    keep_latest: Annotated[
        int | None,
        typer.Option(
            "--keep-latest",
            min=0,
            help="Keep the N newest finished runs of each flow.",
            metavar="N",
        ),
    ] = None,
    flow: Annotated[str | None, typer.Option(help="Only runs of this flow.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    debug: Debug = False,
) -> None:
    """Delete finished (completed, failed, cancelled) runs and their events; running and
    waiting runs always stay. Give --older-than, --keep-latest or both."""
    from plait.cli._run import store_url

    age = _duration(older_than)
    if age is None and keep_latest is None:
        raise typer.BadParameter(
            "give --older-than AGE, --keep-latest N or both (to delete every finished run: "
            "--keep-latest 0)",
            param_hint="'--older-than' / '--keep-latest'",
        )
    cutoff = None if age is None else time.time() - age
    url = store_url(store)
    console = new_console()
    with reported(_debugging(ctx, debug)):
        if not yes:
            count = _with_store(
                url,
                lambda s: s.prune(
                    older_than=cutoff, keep_latest=keep_latest, flow=flow, dry_run=True
                ),
            )
            if count == 0:
                console.print(Text(f"no runs to prune in {mask_url(url)}", style="bright_black"))
                return
            if not typer.confirm(f"delete {_runs(count)} and their events from {mask_url(url)}?"):
                console.print("nothing deleted")
                raise typer.Exit(1)
        deleted = _with_store(
            url, lambda s: s.prune(older_than=cutoff, keep_latest=keep_latest, flow=flow)
        )
    console.print(f"deleted {_runs(deleted)}")
