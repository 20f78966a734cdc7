"""A live progress line for a run: counts, elapsed time, the steps running now."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from plait.runtime import Event, ItemCompleted, StepCompleted, StepFailed, StepStarted

_SHOWN = 6
"""Running steps named; the rest are counted."""


class RunProgress:
    """Feed it every event with ``update``; shows a live display while ``enabled``.

    ``with RunProgress(console, enabled=console.is_terminal) as progress: ...`` — when
    disabled it only counts, so callers need no second code path.
    """

    def __init__(self, console: Console, *, enabled: bool, title: str = "") -> None:
        self.console = console
        self.enabled = enabled
        self.title = title
        self.started = 0
        self.completed = 0
        self.failed = 0
        self.retried = 0
        self.items = 0
        self.running: dict[tuple[str, int], float] = {}
        self._t0 = time.perf_counter()
        self._spinner = Spinner("dots", style="cyan")
        self._live: Live | None = None

    def __enter__(self) -> RunProgress:
        self._t0 = time.perf_counter()
        if self.enabled:
            self._live = Live(
                self,  # re-rendered on each refresh through __rich__
                console=self.console,
                refresh_per_second=12,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def update(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self.started += 1
            self.running[(event.step, event.invocation)] = time.perf_counter()
        elif isinstance(event, StepCompleted):
            self.completed += 1
            self.running.pop((event.step, event.invocation), None)
        elif isinstance(event, ItemCompleted):
            self.items += 1
        elif isinstance(event, StepFailed):
            self.running.pop((event.step, event.invocation), None)
            if event.retrying:
                self.retried += 1
            else:
                self.failed += 1

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def __rich__(self) -> RenderableType:
        line = Text()
        if self.title:
            line.append(f"{self.title}  ", style="bold")
        line.append(f"{self.elapsed:6.1f}s  ", style="cyan")
        line.append(f"started {self.started}  ")
        line.append(f"completed {self.completed}", style="green")
        if self.items:
            line.append(f"  items {self.items}", style="cyan")
        if self.retried:
            line.append(f"  retried {self.retried}", style="yellow")
        if self.failed:
            line.append(f"  failed {self.failed}", style="red")
        now = time.perf_counter()
        running = sorted(list(self.running.items()), key=lambda item: item[1])
        names = [f"{step}#{inv} {now - t:.1f}s" for (step, inv), t in running[:_SHOWN]]
        more = len(running) - _SHOWN
        if more > 0:
            names.append(f"+{more} more")
        status = Text("running: ", style="bright_black")
        status.append(", ".join(names) if names else "—")
        self._spinner.text = line
        return Group(self._spinner, status)
