"""``plait runs respond``: answer a run that waits for a person, and resume it."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any

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
def respond(
    ctx: typer.Context,
    run_id: RunId,
    value: Annotated[
        str,
        typer.Option(
            "--value",
            help="The answer: JSON when it parses and fits the schema the step asked "
            'with (true, 42, {"ok": true}), else the text itself.',
        ),
    ],
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[TARGET]",
            help="path/to/file.py:Name or package.module:Name (default: the flow class "
            "the stored run names)",
        ),
    ] = None,
    request: Annotated[
        str | None,
        typer.Option(
            "--request",
            help="Which request to answer when several steps wait (a key such as "
            "approve:1:1, or a step name).",
        ),
    ] = None,
    no_resume: Annotated[
        bool,
        typer.Option(
            "--no-resume",
            help="Only store the answer; resume later (plait runs resume, or a worker).",
        ),
    ] = False,
    store: StoreOpt = None,
    allow: AllowOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object, as plait run --json does.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the result (or the error).")
    ] = False,
    debug: Debug = False,
) -> None:
    """Answer what a waiting run asks (a step's ask()), checked against the step's schema,
    then resume the run. Exit status 3 when the run waits again."""
    from plait.cli._progress import RunProgress
    from plait.cli._run import code_args, resume, resume_hint, show_outcome, store_url
    from plait.engine import record_answer, stored_ref

    debug = _debugging(ctx, debug)
    url = store_url(store)
    console = new_console()
    with reported(debug):
        record = _with_store(url, lambda s: s.get_run(run_id))
        if record is None:
            raise _no_run(run_id, url)
        answer, text = _read_answer(url, run_id, value, request)
        if no_resume:
            # The definition, when it loads, checks the answer with the step's own type;
            # without it the JSON schema does (the step asks again if its type refuses).
            loaded: Any = None
            with contextlib.suppress(Exception):
                loaded = definition_for(target, record, allow)
            asked = _with_store(
                url,
                lambda s: record_answer(
                    s, run_id, "", answer, request=request, text=text, definition=loaded
                ),
            )
            hint = resume_hint(run_id, store=url, code=code_args(stored_ref(record), target or ""))
            console.print(
                Text(f"✓ answered {asked.prompt!r} of run {run_id}; ", style="green").append(
                    f"go on with: {hint}", style="bright_black"
                )
            )
            return
        definition = definition_for(target, record, allow)
        live = console.is_terminal and not (quiet or as_json)
        progress = RunProgress(console, enabled=live, title=f"respond {run_id}")
        show_outcome(
            lambda: resume(
                definition, run_id, store=url, progress=progress, answer=(answer, request, text)
            ),
            console,
            store=url,
            as_json=as_json,
            quiet=quiet,
            debug=debug,
            target=target or "",
        )


def _read_answer(url: str, run_id: str, value: str, request: str | None) -> tuple[Any, bool]:
    """``--value`` read with the JSON schema of the request it answers (the one open
    request, or the one ``request`` names): its JSON when that fits, else the text when
    that fits; else an InputError with what is wrong with the JSON. ``(value, True)``
    (text for the engine to read) when no one request is found: the engine says why."""
    from plait.core import InputError
    from plait.engine import parse_text, schema_check
    from plait.runtime import pending

    asks = pending(_with_store(url, lambda s: s.read(run_id)))
    chosen = [
        a
        for a in asks
        if (request is None and len(asks) == 1)
        or request in (f"{a.step}:{a.invocation}:{a.key}", a.step)
    ]
    if len(chosen) != 1 or not chosen[0].schema:
        return value, True
    ask = chosen[0]
    try:
        return parse_text(value, schema_check(ask.schema)), False
    except ValueError as exc:
        raise InputError(
            f"run {run_id}: the answer to {ask.prompt!r} does not fit its schema "
            f"{json.dumps(ask.schema)}: {exc}. Nothing was stored; answer again"
        ) from None
