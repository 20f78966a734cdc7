"""The run's live view and the reducer that folds events into it.

``apply(view, event)`` is deterministic and does no I/O: replaying a run's log from
``RunStarted`` rebuilds exactly the view the run had — which steps completed, which
triggers are pending, the and_ joins half-way, the state, the finished map items. It
updates the view in place, because copying it per event would cost more than the step.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from plait.runtime._events import (
    Event,
    EventEmitted,
    InputReceived,
    InputRequested,
    ItemCompleted,
    ModelCalled,
    RouteTaken,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunResumed,
    RunStarted,
    RunWaiting,
    StateChanged,
    StateSnapshot,
    StepCompleted,
    StepFailed,
    StepStarted,
    ToolCalled,
)
from plait.runtime._triggers import LeafKey, TriggerIndex, fire

Status = Literal["pending", "running", "waiting", "completed", "failed", "cancelled"]


@dataclass(slots=True)
class Ready:
    """A step whose trigger held, waiting to start, with what triggered it."""

    step: str
    payload: Any
    source: str
    wave: int = 0
    """Where the chain of routers that led here began (see ``RunView.spent``)."""


@dataclass(slots=True)
class RunView:
    index: TriggerIndex
    status: Status = "pending"
    state: dict[str, Any] = field(default_factory=dict)
    ready: deque[Ready] = field(default_factory=deque)
    running: dict[tuple[str, int], int] = field(default_factory=dict)
    active: dict[str, int] = field(default_factory=dict)
    """How many invocations of each step are running now."""
    calls: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    completed: int = 0
    last_output: Any = None
    joins: dict[str, set[int]] = field(default_factory=dict)
    trees: dict[str, dict[int, set[int]]] = field(default_factory=dict)
    items: dict[tuple[str, int, int], dict[int, Any]] = field(default_factory=dict)
    """Finished map items by (step, invocation, map call): index -> output."""
    error: str = ""
    seq: int = 0
    payloads: dict[tuple[str, int], Any] = field(default_factory=dict)
    """What triggered each started step that has not completed (to run it again)."""
    failed: set[tuple[str, int]] = field(default_factory=set)
    """Step invocations whose last attempt failed (a resumed run runs them again)."""
    waiting: dict[tuple[str, int], int] = field(default_factory=dict)
    """Step invocations stopped in ``ask()``, with their attempt (run again once answered)."""
    asks: dict[tuple[str, int, int], InputRequested] = field(default_factory=dict)
    """Unanswered requests by (step, invocation, key)."""
    answers: dict[tuple[str, int, int], InputReceived] = field(default_factory=dict)
    """Answers by (step, invocation, key)."""
    effects: dict[tuple[str, int, str], dict[int, Event]] = field(default_factory=dict)
    """Recorded model and tool calls by (step, invocation, "model"/"tool"), then index; a
    retry starts without them (it calls afresh), a resumed step gets them back."""
    emitted: set[tuple[str, int, int]] = field(default_factory=set)
    """Emits by (step, invocation, n-th emit): a step run again does not repeat them."""
    spent: dict[str, int] = field(default_factory=dict)
    """``or_`` listeners that fired (``index.once``), with the wave that fired them: they
    hear nothing more until re-armed — by any step that completed before running again,
    or by a router label of theirs from another wave (CrewAI's rules: a router loop
    fires the ``or_`` once per round; two routers chained in one round fire it once)."""
    waves: dict[tuple[str, int], int] = field(default_factory=dict)
    """Running router invocations -> their wave: the ``seq`` of the step completion (or
    emit, or run start) that began the chain of routers they belong to; a step's
    completion and the labels of the routers it sets off form one wave."""
    route_waves: dict[str, int] = field(default_factory=dict)
    """Each router's last completed invocation's wave, for the label it routes to."""


def _deaf(view: RunView, listener: str, wave: int) -> bool:
    """Whether a spent ``or_`` listener stays deaf to this key (``wave`` < 0: not a router
    label); re-armed, it starts afresh."""
    at = view.spent.get(listener)
    if at is None:
        return False
    if wave >= 0 and at != wave:
        del view.spent[listener]
        view.trees.pop(listener, None)
        return False
    return True


def _trigger(view: RunView, key: LeafKey, payload: Any, source: str, wave: int) -> None:
    """``key`` happened: ready the listeners it completes. ``wave`` is where the chain of
    routers began for a router label, and -1 for anything else."""
    index = view.index
    plain = index.plain.get(key)
    if plain is not None:  # listeners that always fire, with the value (most keys)
        start = view.seq if wave < 0 else wave
        ready = view.ready
        for listener in plain:
            ready.append(Ready(listener, payload, source, start))
        return
    spent = view.spent
    fired: list[str] = []
    direct = index.direct.get(key)
    if direct is not None:
        if spent:
            fired.extend(d for d in direct if not _deaf(view, d, wave))
        else:
            fired.extend(direct)
    joins = index.joins.get(key)
    if joins is not None:
        for listener, slot in joins:
            done = view.joins.get(listener)
            if done is None:
                done = view.joins[listener] = set()
            done.add(slot)
            if len(done) == index.join_size[listener]:
                del view.joins[listener]
                fired.append(listener)
    nested = index.nested.get(key)
    if nested is not None:
        for listener, node in nested:
            if listener in fired or (spent and _deaf(view, listener, wave)):
                continue
            progress = view.trees.get(listener)
            if progress is None:
                progress = view.trees[listener] = {}
            if fire(index.trees[listener], node, progress):
                del view.trees[listener]  # all it had seen is spent (CrewAI)
                fired.append(listener)
    if not fired:
        return
    once, quiet = index.once, index.quiet
    start = view.seq if wave < 0 else wave
    for listener in fired:
        if listener in once:
            spent[listener] = start
        if listener in quiet:  # a conditional start runs without the value
            view.ready.append(Ready(listener, None, source, start))
        else:
            view.ready.append(Ready(listener, payload, source, start))


def _label_payload(view: RunView, router: str, label: str) -> Any:
    """What listeners of a router's label receive: the router's output, an ``Enum``
    member's value (CrewAI), or the label when the output is not at hand."""
    out = view.outputs.get(router, label)
    if type(out) is str:
        return out
    if isinstance(out, Enum):
        out = out.value
    try:
        return out if str(out) == label else label
    except Exception:
        return label


def apply(view: RunView, event: Event) -> None:
    """Fold ``event`` into ``view``."""
    view.seq = event.seq
    kind = type(event)
    if kind is StepCompleted:
        ev: Any = event
        key = (ev.step, ev.invocation)
        if view.running.pop(key, None) is not None:
            view.active[ev.step] -= 1
        view.payloads.pop(key, None)
        view.outputs[ev.step] = ev.output
        view.completed += 1
        view.last_output = ev.output
        if ev.step in view.index.routers:
            view.route_waves[ev.step] = view.waves.pop(key, ev.seq)
        _trigger(view, ("step", ev.step), ev.output, ev.step, -1)
    elif kind is StepStarted:
        ev = event
        key = (ev.step, ev.invocation)
        if ev.attempt == 1 and key not in view.running:
            ready = view.ready
            found = None
            if ready and ready[0].step == ev.step:
                found = ready.popleft()
            else:
                for i, entry in enumerate(ready):
                    if entry.step == ev.step:
                        found = entry
                        del ready[i]
                        break
            if found is not None:
                view.payloads[key] = found.payload
                if ev.step in view.index.routers:
                    view.waves[key] = found.wave
            if view.spent and ev.step in view.outputs:
                view.spent.clear()  # a step runs again: every or_ listener re-arms (CrewAI)
            view.calls[ev.step] = ev.invocation
        else:
            if view.failed:
                view.failed.discard(key)
            if view.waiting:
                view.waiting.pop(key, None)
        if key not in view.running:
            view.active[ev.step] = view.active.get(ev.step, 0) + 1
        view.running[key] = ev.attempt
    elif kind is StateChanged:
        ev = event
        state = view.state
        state.update(ev.changes)
        for key in ev.removed:
            state.pop(key, None)
    elif kind is RouteTaken:
        ev = event
        wave = view.route_waves.get(ev.step, ev.seq)
        _trigger(view, ("label", ev.label), _label_payload(view, ev.step, ev.label), ev.step, wave)
    elif kind is EventEmitted:
        ev = event
        _trigger(view, ("event", ev.name), ev.payload, ev.step, -1)
        if ev.index:
            view.emitted.add((ev.step, ev.invocation, ev.index))
    elif kind is ItemCompleted:
        ev = event
        key3 = (ev.step, ev.invocation, ev.call)
        items = view.items.get(key3)
        if items is None:
            items = view.items[key3] = {}
        items[ev.index] = ev.output
    elif kind is ModelCalled:
        ev = event
        view.effects.setdefault((ev.step, ev.invocation, "model"), {})[ev.index] = ev
    elif kind is ToolCalled:
        ev = event
        view.effects.setdefault((ev.step, ev.invocation, "tool"), {})[ev.index] = ev
    elif kind is StepFailed:
        ev = event
        key = (ev.step, ev.invocation)
        if ev.retrying and view.effects:
            view.effects.pop((ev.step, ev.invocation, "model"), None)
            view.effects.pop((ev.step, ev.invocation, "tool"), None)
        if not ev.retrying and view.running.pop(key, None) is not None:
            view.active[ev.step] -= 1
            view.failed.add(key)
    elif kind is InputRequested:
        ev = event
        key = (ev.step, ev.invocation)
        attempt = view.running.pop(key, None)
        if attempt is not None:
            view.active[ev.step] -= 1
            view.waiting[key] = attempt
        view.asks[(ev.step, ev.invocation, ev.key)] = ev
    elif kind is InputReceived:
        ev = event
        key3 = (ev.step, ev.invocation, ev.key)
        view.asks.pop(key3, None)
        view.answers[key3] = ev
    elif kind is StateSnapshot:
        view.state = dict(event.state)  # type: ignore[attr-defined]
    elif kind is RunWaiting:
        view.status = "waiting"
    elif kind is RunStarted:
        ev = event
        view.status = "running"
        view.state = dict(ev.state)
        for name in view.index.starts:
            view.ready.append(Ready(name, None, "", ev.seq))
    elif kind is RunCompleted:
        view.status = "completed"
    elif kind is RunFailed:
        view.status = "failed"
        view.error = event.error  # type: ignore[attr-defined]
    elif kind is RunCancelled:
        view.status = "cancelled"
    elif kind is RunResumed:
        view.status = "running"
        view.error = ""


def replay(index: TriggerIndex, events: list[Event]) -> RunView:
    """The view after ``events``, from an empty one."""
    view = RunView(index)
    for event in events:
        apply(view, event)
    return view
