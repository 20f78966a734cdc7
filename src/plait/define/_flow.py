"""``Flow``: steps as methods of a class, in the style of CrewAI Flows."""

from __future__ import annotations

import copy
import typing
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from plait.core import DefinitionError, RunError
from plait.define import _port
from plait.define._policies import DEFAULT_MAX_CALLS
from plait.define._state import build_state, reducers_of
from plait.define._steps import STEP_ATTR, UNAPPLIED_ATTR, StepDef

StateT = TypeVar("StateT")


def _state_type_of(cls: type) -> type | None:
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if typing.get_origin(base) is Flow:
                args = typing.get_args(base)
                if args and isinstance(args[0], type):
                    return None if args[0] is dict else args[0]
    return None


_RESERVED: frozenset[str] = frozenset()  # filled in below, from Flow's own names


class Flow(Generic[StateT]):
    """Steps as methods, joined by ``@start``, ``@listen``, ``@router``, ``or_`` and ``and_``.

    ``class MyFlow(Flow)`` keeps its state in a dict; ``class MyFlow(Flow[MyState])`` in an
    instance of the pydantic model ``MyState``. Run it with ``kickoff(inputs=...)`` or
    ``await kickoff_async(inputs=...)``; the result is the output of the last step that
    completed, and ``flow.state`` holds the final state.

    Class options: ``name`` (defaults to the class name), ``max_calls`` (default call
    limit per step), ``reducers`` (``{"key": fn}`` for dict state), ``initial_state``.
    """

    __plait_steps__: ClassVar[dict[str, StepDef]] = {}
    __plait_state_type__: ClassVar[type | None] = None
    name: ClassVar[str] = "Flow"
    max_calls: ClassVar[int] = DEFAULT_MAX_CALLS
    reducers: ClassVar[Mapping[str, Callable[[Any, Any], Any]]] = {}
    initial_state: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        steps: dict[str, StepDef] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                unapplied = getattr(value, UNAPPLIED_ATTR, None)
                if unapplied is not None:
                    raise DefinitionError(
                        f"flow {cls.__name__!r}: {attr!r} is decorated with @{unapplied} "
                        f"without parentheses; write @{unapplied}(...)"
                    )
                step = getattr(value, STEP_ATTR, None)
                if isinstance(step, StepDef):
                    if attr in _RESERVED:
                        raise DefinitionError(
                            f"flow {cls.__name__!r}: a step may not be named {attr!r}, which "
                            "the Flow class uses itself; rename the method"
                        )
                    steps[attr] = step
                elif attr in steps:  # a subclass replaced a step with a plain attribute
                    del steps[attr]
        cls.__plait_steps__ = steps
        cls.__plait_state_type__ = _state_type_of(cls)

    def __init__(self, **state: Any) -> None:
        self._state: Any = None
        self._initial: Any = dict(state) if state else None
        self.run_id: str = ""
        self.events: list[Any] = []
        self._running = False
        self._listeners: list[Callable[[Any], None]] = []

    def subscribe(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Call ``fn(event)`` for every event of this flow's runs, as they happen."""
        self._listeners.append(fn)
        return fn

    def on_state_change(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Call ``fn(change)`` with each ``StateChanged`` event (step, changes, removed)."""
        self._listeners.append(lambda e: fn(e) if type(e).__name__ == "StateChanged" else None)
        return fn

    @property
    def state_history(self) -> list[Any]:
        """The last run's ``StateChanged`` events: which step changed which keys, when."""
        return [e for e in self.events if type(e).__name__ == "StateChanged"]

    # -- state -----------------------------------------------------------------------

    @property
    def state(self) -> StateT:
        """The run's state: a dict, or the flow's pydantic model instance."""
        if self._state is None:
            self._state = self._new_state(None, "")
        return self._state  # type: ignore[no-any-return]

    @state.setter
    def state(self, value: StateT) -> None:
        if self._running:
            raise RunError(
                f"flow {self.name!r}: do not replace self.state while it runs; change its "
                "fields instead",
                flow=self.name,
                run_id=self.run_id,
            )
        self._state = value
        self._initial = value

    def _new_state(self, inputs: Mapping[str, Any] | None, run_id: str) -> Any:
        """``initial_state`` (class), then constructor values or ``self.state = ...``, then
        ``inputs``."""
        initial: Any = self.initial_state
        if isinstance(initial, type):
            initial = None
        chosen = self._initial
        if chosen is not None and not isinstance(chosen, Mapping):
            initial = chosen  # a whole state object set by the user
        elif chosen:
            base = initial.model_dump() if hasattr(initial, "model_dump") else dict(initial or {})
            initial = {**base, **chosen}
        state_type = self.__plait_state_type__
        return build_state(
            self.name,
            state_type,
            copy.deepcopy(initial),
            inputs,
            run_id,
            reducers_of(state_type, self.reducers),
        )

    # -- running ---------------------------------------------------------------------

    def kickoff(self, inputs: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Run the flow to the end (blocking) and return the last step's output."""
        return _port.run_sync(self.kickoff_async(inputs, **options), "kickoff")

    async def kickoff_async(self, inputs: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Run the flow to the end and return the last step's output."""
        return await _port.engine().run(self, inputs, **options)

    def stream(self, inputs: Mapping[str, Any] | None = None, **options: Any) -> AsyncIterator[Any]:
        """Run the flow, yielding its events (``StepStarted``, ``StepCompleted``...) live.

        The run ends with the stream. To stop early, close the stream —
        ``async with contextlib.aclosing(flow.stream(...)) as events:`` — which cancels
        the run; a bare ``break`` leaves it running until the stream is garbage-collected.
        A failed run yields ``RunFailed`` and then raises its error.
        """
        return _port.engine().stream(self, inputs, **options)

    def emit(self, name: str, payload: Any = None) -> None:
        """From inside a step: fire the steps listening with ``on_event(name)``."""
        _port.engine().emit(name, payload)

    async def map(
        self, fn: Callable[[Any], Any], items: Any, *, concurrency: int | None = None
    ) -> list[Any]:
        """From inside a step: ``fn`` over ``items``, at most ``concurrency`` at a time.

        Results keep the order of ``items``; each finished item is recorded in the run.
        """
        return await _port.engine().map(fn, items, concurrency)

    def plot(self, fmt: str = "mermaid") -> str:
        """The flow's plan as Mermaid text (``fmt="mermaid"``) or an HTML page (``"html"``)."""
        return _port.engine().render(self, fmt)


_RESERVED = frozenset(
    {name for name in vars(Flow) if not name.startswith("__")}
    | {"run_id", "events", "state", "name"}
)
