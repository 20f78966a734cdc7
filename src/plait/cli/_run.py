"""``plait run`` and ``plait runs resume``: stream a run's events, show its progress, then
its result and timeline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from rich.pretty import Pretty
from rich.text import Text

from plait.cli._errors import print_error, print_traceback, stderr
from plait.cli._progress import RunProgress
from plait.cli._timeline import counted, render_timeline, run_duration
from plait.cli._usage import render_usage, usage_json
from plait.core import PlaitError, WaitingForInput, mask_url
from plait.engine import jsonable as jsonable  # the cli modules import it from here
from plait.engine import run_output
from plait.plan import compile
from plait.runtime import Event, RunFailed, RunResumed, RunStarted

DEFAULT_STORE = "sqlite:///.plait/runs.db"
"""Where the CLI keeps runs unless told otherwise (relative to the current directory)."""


def store_url(store: str | None) -> str:
    """``--store``, else ``$PLAIT_STORE``, else the durable default in ``./.plait/``.
    Show it only as :func:`~plait.core.mask_url` of it: it may hold a password."""
    return store or os.environ.get("PLAIT_STORE") or DEFAULT_STORE


def require_store(url: str) -> None:
    """A :class:`~plait.core.StoreError` when ``url`` is a SQLite file that does not
    exist: commands that read runs must not create an empty store where a mistyped URL
    points (``plait run`` creates it)."""
    from urllib.parse import unquote, urlsplit

    from plait.core import StoreError

    if not url.lower().startswith("sqlite://"):
        return
    try:
        path = unquote(urlsplit(url).path[1:])
    except ValueError:
        return  # opening it says what is wrong with it
    if path and not os.path.exists(path):
        raise StoreError(
            f"no such store: {mask_url(url)} (no file {path!r} here); check --store and "
            "PLAIT_STORE, or store runs there first: plait run TARGET --store URL"
        )


def store_hint(store: str) -> str:
    """`` --store URL`` for a command to suggest (the password masked), or nothing when
    the store is the one a plain command uses."""
    return "" if store == store_url(None) else f" --store {shlex.quote(mask_url(store))}"


def parse_inputs(
    pairs: Sequence[str], inputs_json: str | None, definition: Any = None
) -> dict[str, Any]:
    """``--inputs-json`` updated by each ``--input key=value``, each value read with the
    type ``definition`` gives its key (see :func:`plait.engine.parse_pairs`)."""
    from plait.engine import input_fields, parse_pairs

    fields = [] if definition is None else input_fields(definition)
    return parse_pairs(pairs, fields=fields, option="--input", base=inputs_json)


_INPUTS_HINT = re.compile(r"(?:kickoff\()?inputs=\{((?:'[^']*': \.\.\.(?:, )?)+)\}\)?")


def cli_hint(message: str) -> str:
    """``message`` with ``inputs={'text': ...}`` (the Python way to pass inputs) written
    the command line's way: ``--input text=...``."""

    def options(match: re.Match[str]) -> str:
        names = re.findall(r"'([^']*)': \.\.\.", match[1])
        return " ".join(f"--input {shlex.quote(name)}=..." for name in names)

    return _INPUTS_HINT.sub(options, message)


def code_args(ref: str, target: str = "") -> str:
    """What ``plait runs resume|respond RUN_ID`` needs after the run id to load the code
    the stored reference ``ref`` names, from here: nothing, `` --allow FOLDER`` (a file
    off the allow-list), or `` TARGET`` (``target`` as typed, else a placeholder) when
    nothing stored names loadable code."""
    from plait.engine import NAME_IT, resume_needs

    needs = resume_needs(ref)
    if needs == NAME_IT:
        needs = shlex.quote(target) if target else NAME_IT
    return f" {needs}" if needs else ""


def resume_hint(run_id: str, *, store: str, code: str = "") -> str:
    """``plait runs resume RUN_ID`` with what loading its code (``code``, from
    :func:`code_args`) and its store need."""
    return f"plait runs resume {shlex.quote(run_id)}{code}{store_hint(store)}"


@dataclass
class Outcome:
    """What a run left behind: its events, result or error, and final state."""

    definition: Any
    events: list[Event] = field(default_factory=list)
    output: Any = None
    error: BaseException | None = None
    wall: float = 0.0

    @property
    def started(self) -> bool:
        return bool(self.events) and isinstance(self.events[0], RunStarted | RunResumed)

    @property
    def failed_step(self) -> str:
        for event in reversed(self.events):
            if isinstance(event, RunFailed) and event.step:
                return event.step
        return str(getattr(self.error, "step", "") or "")

    @property
    def waiting(self) -> bool:
        return isinstance(self.error, WaitingForInput)

    @property
    def status(self) -> str:
        if self.error is None:
            return "completed"
        return "waiting" if self.waiting else "failed"

    @property
    def duration(self) -> float:
        return run_duration(self.events) if self.error is None else self.wall


def execute(
    definition: Any, inputs: Mapping[str, Any], *, store: str | None, progress: RunProgress
) -> Outcome:
    """Run ``definition`` through ``stream``; a failed run is returned, not raised. The
    engine's own methods, not the flow's: a failed step stays a ``StepError``."""
    from plait.engine import ENGINE

    options: dict[str, Any] = {} if store is None else {"store": store}
    return drive(definition, lambda: ENGINE.stream(definition, inputs, **options), progress)


def resume(
    definition: Any,
    run_id: str,
    *,
    store: str,
    progress: RunProgress,
    answer: tuple[Any, str | None, bool] | None = None,
) -> Outcome:
    """Go on with stored run ``run_id`` — after storing ``answer`` (a value, the request
    key, whether the value is text to read) for a waiting run; a failed run is returned,
    not raised."""
    return drive(definition, lambda: _resumed(definition, run_id, store, answer), progress)


async def _resumed(
    definition: Any, run_id: str, store: str, answer: tuple[Any, str | None, bool] | None
) -> AsyncIterator[Event]:
    """``resume_async``'s events as a stream (resume has no ``stream()`` of its own)."""
    from plait.engine import ENGINE

    queue: asyncio.Queue[Event | None] = asyncio.Queue()
    if answer is None:
        work = ENGINE.resume(definition, run_id, store=store, listeners=[queue.put_nowait])
    else:
        value, request, text = answer
        work = ENGINE.respond(
            definition,
            run_id,
            value,
            request=request,
            text=text,
            store=store,
            listeners=[queue.put_nowait],
        )
    task = asyncio.get_running_loop().create_task(work)
    task.add_done_callback(lambda _: queue.put_nowait(None))
    try:
        while (event := await queue.get()) is not None:
            yield event
        await task  # raises the run's error, after its RunFailed event
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def drive(
    definition: Any, events: Callable[[], AsyncIterator[Event]], progress: RunProgress
) -> Outcome:
    """Consume the run ``events()`` streams, showing progress; collect its outcome."""
    outcome = Outcome(definition)

    async def consume() -> None:
        async for event in events():
            outcome.events.append(event)
            progress.update(event)

    t0 = time.perf_counter()
    with progress:
        try:
            asyncio.run(consume())
        except PlaitError as exc:
            if not outcome.started:
                raise  # bad inputs, plan or run id: nothing ran
            outcome.error = exc
    outcome.wall = time.perf_counter() - t0
    if outcome.error is None:
        outcome.output = run_output(outcome.events)
    return outcome


def to_json(outcome: Outcome, *, store: str | None = None) -> str:
    """``plait run --json``'s object (see :func:`plait.engine.outcome_doc`)."""
    from plait.engine import outcome_doc

    error = outcome.error
    doc = outcome_doc(
        outcome.events,
        flow=compile(outcome.definition).name,
        output=outcome.output,
        state=getattr(outcome.definition, "state", None),
        error=error,
        failed_step=outcome.failed_step,
        waiting_for=error.requests if isinstance(error, WaitingForInput) else (),
        duration=outcome.duration,
        store=store,
        usage=usage_json(outcome.events),
    )
    return json.dumps(doc, ensure_ascii=False)


def _readable(value: Any) -> Any:
    """Text as it is (multi-line output stays readable); anything else pretty-printed."""
    return Text(value) if isinstance(value, str) else Pretty(value)


WAITING_EXIT = 3
"""The exit status of ``plait run``/``resume``/``respond`` when the run waits for input."""


def print_waiting(waiting: WaitingForInput, store: str, code: str = "") -> None:
    """What a waiting run asks, and the command that answers it (on stderr); ``code``:
    what loading its code needs (:func:`code_args`)."""
    hint = store_hint(store)
    text = Text("⏸ Waiting for input", style="bold yellow")
    text.append(f": run {waiting.run_id} of {waiting.flow!r} is stored in {mask_url(store)}")
    many = len(waiting.requests) > 1
    for request in waiting.requests:
        text.append(f"\n  • {request['step']}: ", style="yellow")
        text.append(str(request["prompt"]))
        schema = request.get("schema") or {}
        if schema:
            text.append(f"\n    answer fits: {json.dumps(schema)}", style="bright_black")
        if request.get("deadline"):
            at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(request["deadline"])))
            text.append(f"\n    times out at {at}", style="bright_black")
        which = f" --request {request['key']}" if many else ""
        text.append(
            f"\n    answer: plait runs respond {waiting.run_id}{code} --value '...'{which}{hint}",
            style="bright_black",
        )
    stderr().print(text)


def report(outcome: Outcome, console: Console, *, quiet: bool, store: str = "") -> None:
    """Print the timeline, the result and a summary line (only the result when quiet)."""
    if quiet:
        if outcome.error is None:
            console.print(_readable(outcome.output))
        return
    rows = render_timeline(outcome.events, console, caption=outcome.error is not None)
    render_usage(outcome.events, console)
    if outcome.error is not None:
        return
    console.print(Text("Result", style="bold"))
    console.print(_readable(outcome.output))
    run_id = outcome.events[0].run_id if outcome.events else "?"
    steps = len({r.step for r in rows})
    line = Text("✓ completed", style="bold green")
    line.append(f"  run {run_id} in {outcome.duration * 1000:,.1f} ms · ")
    line.append(f"{counted(steps, 'step')}, {counted(len(rows), 'invocation')}")
    if store:
        line.append(f" · stored in {mask_url(store)}", style="bright_black")
    console.print(line)


def show_outcome(
    go: Callable[[], Outcome],
    console: Console,
    *,
    store: str,
    as_json: bool,
    quiet: bool,
    debug: bool,
    target: str = "",
) -> None:
    """Run ``go`` and print its outcome, as ``plait run`` and ``plait runs resume`` do;
    exit 1 when the run failed (telling how to resume it; ``target``: the TARGET typed,
    for a run whose code its stored plan cannot name)."""
    from plait.engine import definition_ref

    try:
        outcome = go()
    except KeyboardInterrupt:
        print_error("interrupted; the run was cancelled", title="Cancelled")
        raise typer.Exit(130) from None
    if as_json:
        typer.echo(to_json(outcome, store=store))
    else:
        report(outcome, console, quiet=quiet, store=store)
    code = code_args(definition_ref(outcome.definition), target)
    if isinstance(outcome.error, WaitingForInput):
        print_waiting(outcome.error, store, code)
        raise typer.Exit(WAITING_EXIT)
    if outcome.error is not None:
        if debug:
            print_traceback(outcome.error)
        step = outcome.failed_step
        where = f" in step {step!r}" if step else ""
        print_error(str(outcome.error), title=f"Run failed{where}")
        if not (as_json or quiet) and outcome.events:
            run_id = outcome.events[0].run_id
            stderr().print(
                Text(
                    f"run {run_id} is stored in {mask_url(store)}; fix the cause, then go on with: "
                    + resume_hint(run_id, store=store, code=code),
                    style="bright_black",
                )
            )
        raise typer.Exit(1)


def go_on_with(
    definition: Any,
    run_id: str,
    *,
    store: str,
    now: bool,
    console: Console,
    as_json: bool,
    debug: bool,
    title: str,
) -> None:
    """A new stored run (a fork, a rerun): resume it ``now`` and show its outcome, or
    print the command that resumes it later."""
    from plait.cli._progress import RunProgress

    if not now:
        from plait.engine import definition_ref

        code = code_args(definition_ref(definition))
        hint = resume_hint(run_id, store=store, code=code)
        console.print(Text(f"go on with: {hint}", style="bright_black"))
        return
    progress = RunProgress(console, enabled=console.is_terminal and not as_json, title=title)
    show_outcome(
        lambda: resume(definition, run_id, store=store, progress=progress),
        console,
        store=store,
        as_json=as_json,
        quiet=False,
        debug=debug,
    )
