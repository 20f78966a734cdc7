"""The ``plait`` commands: ``run``, ``plot``, ``validate`` and ``runs …``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from plait.cli._errors import print_error, reported, stderr

app = typer.Typer(
    name="plait",
    help=(
        "Run, plot and check plait flows and workflows.\n\n"
        "TARGET is path/to/file.py:Name or package.module:Name, where Name is a Flow "
        'subclass, a Flow instance or a Workflow (":Name" may be left out when the '
        "module defines only one).\n\n"
        "Errors print one message and exit 1; usage errors exit 2. Add --debug (before or "
        "after the command) to see tracebacks."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Target = Annotated[
    str, typer.Argument(metavar="TARGET", help="path/to/file.py:Name or package.module:Name")
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")]


class Format(StrEnum):
    mermaid = "mermaid"
    html = "html"


def _version(value: bool) -> None:
    if value:
        from plait import __version__

        typer.echo(f"plait {__version__}")
        raise typer.Exit()


def _debugging(ctx: typer.Context, debug: bool) -> bool:
    """``--debug`` given to the command or before it."""
    return debug or bool(ctx.find_root().obj)


@app.callback()
def _main(
    ctx: typer.Context,
    debug: Debug = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    ctx.obj = debug


@app.command()
def run(
    ctx: typer.Context,
    target: Target,
    input: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            metavar="KEY=VALUE",
            help="An input; VALUE is read as the type the flow's state gives KEY (text "
            "for a str field), else as JSON when it parses (42, true, [1,2]), else as "
            "text. Repeatable; overrides --inputs-json. plait validate lists the inputs.",
        ),
    ] = None,
    inputs_json: Annotated[
        str | None, typer.Option("--inputs-json", metavar="JSON", help="Inputs as a JSON object.")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object {run_id, status, output, state, duration_s, steps, "
            "error} and nothing else on stdout.",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the result (or the error).")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            help="Store URL: sqlite:///path.db, postgresql://…, redis://…, memory:// "
            "(default: $PLAIT_STORE, else sqlite:///.plait/runs.db here).",
            metavar="URL",
        ),
    ] = None,
    debug: Debug = False,
) -> None:
    """Run a flow or workflow, showing live progress, then its result and timeline.

    Runs are stored (by default in ./.plait/runs.db): list them with `plait runs list`
    and go on with a failed one with `plait runs resume RUN_ID`."""
    from plait.cli._console import console as new_console
    from plait.cli._progress import RunProgress
    from plait.cli._run import cli_hint, execute, parse_inputs, show_outcome, store_url
    from plait.core import InputError
    from plait.engine import load_target

    debug = _debugging(ctx, debug)
    with reported(debug):
        definition = load_target(target)
    try:
        inputs = parse_inputs(input or [], inputs_json, definition)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    url = store_url(store)
    console = new_console()
    with reported(debug):
        live = console.is_terminal and not (quiet or as_json)
        progress = RunProgress(console, enabled=live, title=target)
        try:
            show_outcome(
                lambda: execute(definition, inputs, store=url, progress=progress),
                console,
                store=url,
                as_json=as_json,
                quiet=quiet,
                debug=debug,
                target=target,
            )
        except InputError as exc:  # told the command line's way: --input key=...
            raise InputError(cli_hint(str(exc))) from exc


@app.command()
def plot(
    ctx: typer.Context,
    target: Target,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="mermaid text or a standalone HTML page.")
    ] = Format.mermaid,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE instead of stdout.", metavar="FILE"),
    ] = None,
    debug: Debug = False,
) -> None:
    """Draw a flow's plan as Mermaid text or an HTML page (an SVG drawing, no network)."""
    from plait.engine import load_target
    from plait.plan import compile, render

    with reported(_debugging(ctx, debug)):
        text = render(compile(load_target(target, instantiate=False)), fmt.value)
        if output is None:
            typer.echo(text, nl=False)
            return
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print_error(f"cannot write {str(output)!r}: {exc.strerror or exc}")
            raise typer.Exit(1) from None
        stderr().print(f"wrote {output}")


Strict = Annotated[
    bool, typer.Option("--strict", help="Treat warnings as problems too (exit 1 on any).")
]


@app.command()
def validate(
    ctx: typer.Context, target: Target, strict: Strict = False, debug: Debug = False
) -> None:
    """Compile a flow and list every problem found (exit 1), or summarise it with its
    warnings (exit 0); with --strict, warnings are problems too."""
    import logging

    from plait.engine import input_fields, load_target, state_fields
    from plait.plan import compile

    plan_log = logging.getLogger("plait.plan")  # the warnings are listed below instead
    level = plan_log.level
    plan_log.setLevel(logging.ERROR)
    try:
        with reported(_debugging(ctx, debug)):
            definition = load_target(target, instantiate=False)
            plan = compile(definition, strict=strict)
            inputs = input_fields(definition)
            free = plan.kind == "flow" and not state_fields(definition)  # dict state
    finally:
        plan_log.setLevel(level)
    starts = [
        s.name if s.trigger is None else f"{s.name} (on {s.trigger.describe()})"
        for s in plan.steps
        if s.start
    ]
    routers = [s for s in plan.steps if s.kind == "router"]
    listeners = [s for s in plan.steps if s.trigger is not None]
    console = Console(highlight=False, soft_wrap=True)
    line = Text("✓ ", style="bold green")
    line.append(f"{plan.kind} {plan.name!r} is valid: ", style="green")
    line.append(f"{len(plan.steps)} step" + ("" if len(plan.steps) == 1 else "s"))
    console.print(line)
    console.print(Text(f"  start steps: {', '.join(starts)}"))
    for r in routers:
        labels = "any label" if r.labels is None else ", ".join(r.labels)
        console.print(Text(f"  router {r.name} → {labels}"))
    if not routers:
        console.print(Text("  routers: none"))
    console.print(Text(f"  listeners: {len(listeners)}"))
    _print_inputs(console, inputs, state_free=free)
    if plan.warnings:
        count = len(plan.warnings)
        head = Text("! ", style="bold yellow")
        head.append(f"{count} warning{'' if count == 1 else 's'} ", style="yellow")
        head.append("(it runs; --strict refuses it):")
        console.print(head)
        for warning in plan.warnings:
            console.print(Text(f"  • {warning}"))


def _print_inputs(console: Console, inputs: list[Any], *, state_free: bool) -> None:
    """The inputs a run takes (``--input KEY=VALUE``), with types and defaults."""
    if not inputs:
        what = "any keys (dict state)" if state_free else "none"
        console.print(Text(f"  inputs: {what}"))
        return
    console.print(Text("  inputs (--input KEY=VALUE):"))
    for field in inputs:
        console.print(Text(f"    {field.describe()}"))


def _add_runs() -> None:
    from plait.cli import (
        _rerun,  # noqa: F401 — adds ``runs rerun``
        _respond,  # noqa: F401 — adds ``runs respond``
        _tail,  # noqa: F401 — adds ``runs tail``
        _travel,  # noqa: F401 — adds ``runs checkpoints|state|diff|fork``
    )
    from plait.cli._runs import runs

    app.add_typer(runs, name="runs")
    from plait.cli._worker import worker

    app.command()(worker)


_add_runs()
