"""``plait runs checkpoints|state|diff|fork``: time travel over a stored run.

Thin commands over :mod:`plait.engine`'s ``checkpoints``, ``state_at``, ``diff`` and
``fork``; the stored run itself is never changed (a fork is a new run).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text

from plait.cli._console import console as new_console
from plait.cli._errors import print_error, reported
from plait.cli._runs import (
    AllowOpt,
    Debug,
    Json,
    RunId,
    StoreOpt,
    _debugging,
    _no_run,
    _with_store,
    definition_for,
    runs,
)
from plait.runtime import Event, RunRecord, RunStarted, StateChanged, Store

Seq = Annotated[int, typer.Argument(metavar="SEQ", help="An event number (see checkpoints).")]

_GONE = "—"
"""How a table shows a key that one side of a diff does not hold."""


async def _stored(store: Store, run_id: str, url: str, seqs: Sequence[int]) -> list[Event]:
    """The log of ``run_id``, after checking the run exists and holds events ``seqs``."""
    from plait.engine import find_run

    found = await find_run(store, run_id)
    if found is None:
        raise _no_run(run_id, url)
    events = found.events
    for seq in seqs:
        if events and not events[0].seq <= seq <= events[-1].seq:
            print_error(
                f"run {run_id} has no event {seq}: its log holds events {events[0].seq} to "
                f"{events[-1].seq}; list its checkpoints with: plait runs checkpoints {run_id}",
                title="No such event",
            )
            raise typer.Exit(1)
    return events


def _touched(events: Sequence[Event], after: int, upto: int) -> tuple[list[str], list[str]]:
    """The state keys set and removed by the events ``after < seq <= upto``."""
    changed: dict[str, None] = {}
    removed: dict[str, None] = {}
    for event in events:
        if not after < event.seq <= upto:
            continue
        if isinstance(event, RunStarted):
            changed.update(dict.fromkeys(event.state))
        elif isinstance(event, StateChanged):
            for key in event.changes:
                changed[key] = None
                removed.pop(key, None)
            for key in event.removed:
                removed[key] = None
                changed.pop(key, None)
    return list(changed), list(removed)


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if ts else "—"


def _shown(value: Any) -> str:
    """A state value as one line: JSON where it can be."""
    from plait.cli._run import jsonable

    return json.dumps(jsonable(value), ensure_ascii=False)


@runs.command()
def checkpoints(
    ctx: typer.Context,
    run_id: RunId,
    store: StoreOpt = None,
    as_json: Json = False,
    debug: Debug = False,
) -> None:
    """List a run's checkpoints (its start, then each completed step): the SEQs that
    `plait runs state` reads and `plait runs fork` starts from."""
    from plait.cli._run import code_args, store_hint, store_url
    from plait.engine import Checkpoint, stored_ref
    from plait.engine import checkpoints as checkpoints_of

    url = store_url(store)

    async def fetch(s: Store) -> tuple[list[Checkpoint], list[Event], RunRecord | None]:
        events = await _stored(s, run_id, url, ())
        return await checkpoints_of(run_id, store=s), events, await s.get_run(run_id)

    with reported(_debugging(ctx, debug)):
        marks, events, record = _with_store(url, fetch)
    rows: list[dict[str, Any]] = []
    before = 0
    for mark in marks:
        changed, removed = _touched(events, before, mark.seq)
        before = mark.seq
        rows.append(
            {
                "seq": mark.seq,
                "step": mark.step,
                "invocation": mark.invocation,
                "ts": mark.ts,
                "changed": changed,
                "removed": removed,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"Checkpoints of run {run_id}", title_justify="left")
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("step", no_wrap=True)
    table.add_column("invocation", justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("state keys changed", overflow="fold")
    for row in rows:
        keys = Text(", ".join(row["changed"]))
        for key in row["removed"]:
            keys.append(", " if keys.plain else "").append(f"−{key}", style="red")
        table.add_row(
            str(row["seq"]),
            Text(row["step"]) if row["step"] else Text("(start)", style="bright_black"),
            str(row["invocation"]) if row["step"] else "",
            _time(row["ts"]),
            keys,
        )
    console = new_console()
    console.print(table)
    hint = store_hint(url)
    code = code_args(stored_ref(record) if record else "")
    console.print(
        Text(
            f"read one with: plait runs state {run_id} SEQ{hint} · fork from one with: "
            f"plait runs fork {run_id} SEQ{code} --set key=value --resume{hint}",
            style="bright_black",
        )
    )


@runs.command()
def state(
    ctx: typer.Context,
    run_id: RunId,
    seq: Seq,
    store: StoreOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the state as one JSON object.")
    ] = False,
    debug: Debug = False,
) -> None:
    """Show a run's state right after its event SEQ."""
    from plait.cli._run import jsonable, store_url
    from plait.engine import state_at

    url = store_url(store)

    async def fetch(s: Store) -> dict[str, Any]:
        await _stored(s, run_id, url, (seq,))
        return await state_at(run_id, seq, store=s)

    with reported(_debugging(ctx, debug)):
        values = _with_store(url, fetch)
    if as_json:
        typer.echo(json.dumps(jsonable(values), ensure_ascii=False))
        return
    console = new_console()
    console.print(Text(f"state of run {run_id} after event {seq}", style="bold"))
    console.print(Pretty(values))


@runs.command("diff")
def diff_(
    ctx: typer.Context,
    run_id: RunId,
    a: Annotated[int, typer.Argument(metavar="A", help="The first event number.")],
    b: Annotated[int, typer.Argument(metavar="B", help="The second event number.")],
    store: StoreOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a JSON list of {key, a, b, change}: change is added, removed or "
            "changed; a side without the key is null.",
        ),
    ] = False,
    debug: Debug = False,
) -> None:
    """Show the state keys whose values differ between after event A and after event B."""
    from plait.cli._run import jsonable, store_url
    from plait.engine import MISSING, diff

    url = store_url(store)

    async def fetch(s: Store) -> dict[str, tuple[Any, Any]]:
        await _stored(s, run_id, url, (a, b))
        return await diff(run_id, a, b, store=s)

    with reported(_debugging(ctx, debug)):
        changes = _with_store(url, fetch)
    if as_json:
        rows = [
            {
                "key": key,
                "a": None if old is MISSING else jsonable(old),
                "b": None if new is MISSING else jsonable(new),
                "change": "added" if old is MISSING else "removed" if new is MISSING else "changed",
            }
            for key, (old, new) in changes.items()
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    console = new_console()
    if not changes:
        console.print(
            Text(f"the state of run {run_id} is the same after events {a} and {b}", style="green")
        )
        return
    console.print(Text(f"state of run {run_id}: after event {a} → after event {b}", style="bold"))
    table = Table()
    table.add_column("key", no_wrap=True)
    table.add_column(f"at {a}", overflow="fold")
    table.add_column(f"at {b}", overflow="fold")
    for key, (old, new) in changes.items():
        table.add_row(
            Text(key),
            Text(_GONE, style="bright_black") if old is MISSING else Text(_shown(old), "red"),
            Text(_GONE, style="bright_black") if new is MISSING else Text(_shown(new), "green"),
        )
    console.print(table)


def parse_changes(
    pairs: Sequence[str], set_json: str | None, definition: Any = None
) -> dict[str, Any]:
    """``--set-json`` updated by each ``--set key=value``, each value read with the type
    ``definition``'s state gives its key (see :func:`plait.engine.parse_pairs`);
    ValueError on a malformed one."""
    from plait.engine import parse_pairs, state_fields

    fields = [] if definition is None else state_fields(definition)
    return parse_pairs(
        pairs, fields=fields, option="--set", base=set_json, base_option="--set-json"
    )


@runs.command()
def fork(
    ctx: typer.Context,
    run_id: RunId,
    seq: Seq,
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[TARGET]",
            help="path/to/file.py:Name or package.module:Name (default: the flow class "
            "the stored run names)",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Set a state key in the fork; VALUE is parsed as JSON when it can be "
            "(42, true, [1,2]), else kept as a string. Repeatable; overrides --set-json.",
        ),
    ] = None,
    set_json: Annotated[
        str | None,
        typer.Option("--set-json", metavar="JSON", help="State keys to set, as a JSON object."),
    ] = None,
    go_on: Annotated[
        bool, typer.Option("--resume", help="Run the fork on from there, as runs resume does.")
    ] = False,
    store: StoreOpt = None,
    allow: AllowOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object: {run_id, forked_from, seq, state_changes}, or with "
            "--resume the outcome, as plait run --json does.",
        ),
    ] = False,
    debug: Debug = False,
) -> None:
    """Fork a new run from checkpoint SEQ of a run, with state keys edited, and print its
    id; --resume goes on with it. The steps completed by then do not run again; the
    original run is not changed."""
    from plait.cli._run import go_on_with, store_url
    from plait.engine import fork as fork_run

    debug = _debugging(ctx, debug)
    try:
        changes = parse_changes(set_ or [], set_json)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    url = store_url(store)
    console = new_console()

    async def fetch(s: Store) -> RunRecord | None:
        await _stored(s, run_id, url, (seq,))
        return await s.get_run(run_id)

    with reported(debug):
        record = _with_store(url, fetch)
        if record is None:  # deleted meanwhile
            raise _no_run(run_id, url)
        definition = definition_for(target, record, allow)
        try:
            changes = parse_changes(set_ or [], set_json, definition)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        new_id = _with_store(
            url, lambda s: fork_run(definition, run_id, seq, store=s, state_changes=changes)
        )
        if as_json and not go_on:
            doc = {"run_id": new_id, "forked_from": run_id, "seq": seq, "state_changes": changes}
            typer.echo(json.dumps(doc, ensure_ascii=False))
            return
        if not as_json:
            line = Text(f"✓ forked run {run_id} at event {seq} as ", style="green")
            console.print(line.append(new_id, style="bold green"))
        go_on_with(
            definition,
            new_id,
            store=url,
            now=go_on,
            console=console,
            as_json=as_json,
            debug=debug,
            title=f"fork {new_id}",
        )
