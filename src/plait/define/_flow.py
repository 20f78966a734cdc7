"""``Flow``: steps as methods of a class, in the style of CrewAI Flows."""

from __future__ import annotations

import copy
import typing
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from plait.core import DefinitionError, RunError
from plait.define import _port
from plait.define._policies import DEFAULT_MAX_CALLS
from plait.define._state import build_state, is_model_type, reducers_of
from plait.define._steps import STEP_ATTR, UNAPPLIED_ATTR, StepDef

StateT = TypeVar("StateT")


def _declared_state(cls: type) -> type | None:
    """The state type named by ``Flow[...]``: a pydantic model, or ``None`` for a dict."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if typing.get_origin(base) is not Flow:
                continue
            args = typing.get_args(base)
            arg = args[0] if args else Any
            if isinstance(arg, TypeVar) or arg is Any:
                return None  # a generic base: a subclass may name the type
            if (typing.get_origin(arg) or arg) is dict:
                return None
            if is_model_type(arg):
                return arg
            shown = getattr(arg, "__name__", None) or repr(arg)
            raise DefinitionError(
                f"flow {cls.__name__!r}: Flow[{shown}] is not a state type plait can use; "
                "write Flow[M] with a pydantic model M (class M(BaseModel): ...), or "
                "Flow / Flow[dict] for dict state"
            )
    return None


def _state_type_of(cls: type) -> type | None:
    """``Flow[M]``, else the model that ``initial_state`` names (a class or an instance,
    as in CrewAI), else ``None`` (dict state)."""
    declared = _declared_state(cls)
    initial = getattr(cls, "initial_state", None)
    from_initial: type | None = None
    if is_model_type(initial):
        from_initial = initial
    elif initial is not None and is_model_type(type(initial)):
        from_initial = type(initial)
    if declared is None:
        return from_initial
    if from_initial is not None and not issubclass(from_initial, declared):
        raise DefinitionError(
            f"flow {cls.__name__!r}: initial_state is a {from_initial.__name__}, but the "
            f"flow's state is Flow[{declared.__name__}]; make them the same model"
        )
    return declared


_RESERVED: frozenset[str] = frozenset()  # filled in below, from Flow's own names


class Flow(Generic[StateT]):
    """Steps as methods, joined by ``@start``, ``@listen``, ``@router``, ``or_`` and ``and_``.

    ``class MyFlow(Flow)`` keeps its state in a dict; ``class MyFlow(Flow[MyState])`` in an
    instance of the pydantic model ``MyState``. Run it with ``kickoff(inputs=...)`` or
    ``await kickoff_async(inputs=...)``; the result is the output of the last step that
    completed, and ``flow.state`` holds the final state.

    Class options: ``name`` (defaults to the class name), ``max_calls`` (default call
    limit per step), ``reducers`` (``{"key": fn}`` for dict state), ``initial_state`` (a
    dict, or as in CrewAI a pydantic model class or instance, which then is the state type
    when the class does not say ``Flow[...]``).
    """

    __plait_steps__: ClassVar[dict[str, StepDef]] = {}
    __plait_state_type__: ClassVar[type | None] = None
    name: ClassVar[str] = "Flow"
    max_calls: ClassVar[int] = DEFAULT_MAX_CALLS
    reducers: ClassVar[Mapping[str, Callable[[Any, Any], Any]]] = {}
    initial_state: ClassVar[Any] = None

    # Instance attributes, with class defaults so that a subclass whose __init__ does not
    # call super().__init__() still works. Immutable defaults only: each instance makes
    # its own list when it first needs one.
    _state: Any = None
    _initial: Any = None
    _running: bool = False
    _listeners: Sequence[Callable[[Any], None]] = ()
    run_id: str = ""
    events: Sequence[Any] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        steps: dict[str, StepDef] = {}
        aliases: dict[str, StepDef] = {}
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
                    if attr != step.name:  # an alias (first = begin): one step, one name
                        aliases[attr] = step
                        continue
                    steps[attr] = step
                elif attr in steps:  # a subclass replaced a step with a plain attribute
                    del steps[attr]
        for attr, step in aliases.items():
            if step.name not in steps:
                raise DefinitionError(
                    f"flow {cls.__name__!r}: attribute {attr!r} holds a step whose function "
                    f"is named {step.name!r}; give them one name (a decorator between "
                    "@start/@listen/@router and the method needs functools.wraps)"
                )
        cls.__plait_steps__ = steps
        cls.__plait_state_type__ = _state_type_of(cls)

    def __init__(self, **state: Any) -> None:
        self._initial = dict(state) if state else None

    def subscribe(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Call ``fn(event)`` for every event of this flow's runs, as they happen."""
        self._listeners = [*self._listeners, fn]
        return fn

    def on_state_change(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """Call ``fn(change)`` with each ``StateChanged`` event (step, changes, removed)."""
        self.subscribe(lambda e: fn(e) if type(e).__name__ == "StateChanged" else None)
        return fn

    @property
    def state_history(self) -> list[Any]:
        """The last run's ``StateChanged`` events: which step changed which keys, when."""
        return [e for e in self.events if type(e).__name__ == "StateChanged"]

    # -- state -----------------------------------------------------------------------

    @property
    def state(self) -> StateT:
        """The run's state: a dict, or the flow's pydantic model instance.

        Before the first run it is the state the run will start from: changes made to it
        then (``flow.state.topic = "x"``) are kept, as in CrewAI.
        """
        if self._state is None:
            self._state = self._initial = self._new_state(None, "")
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
            initial = None  # a model class: its defaults
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

    def resume(self, run_id: str, **options: Any) -> Any:
        """Go on with a stored run (after a crash or a failure) to its end (blocking).

        Steps the log shows completed do not run again; steps that had started, or failed
        last, run again. Pass the same ``store=`` (or ``PLAIT_STORE``) the run used.
        """
        return _port.run_sync(self.resume_async(run_id, **options), "resume")

    async def resume_async(self, run_id: str, **options: Any) -> Any:
        """Async form of :meth:`resume`."""
        return await _port.engine().resume(self, run_id, **options)

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

    async def ask(
        self,
        prompt: str,
        *,
        schema: Any = None,
        timeout: float | None = None,
        default: Any = _port.NO_DEFAULT,
    ) -> Any:
        """From inside a step: a person's answer to ``prompt``, validated into ``schema``
        (a pydantic model or a type such as ``bool``; any JSON value when None).

        With no answer stored yet, the step stops here and the run waits: ``kickoff``
        raises :class:`plait.WaitingForInput` and the store shows the run ``waiting``.
        :meth:`respond` (or ``plait runs respond``) stores an answer and resumes the run,
        which runs this step again from its start; this call then returns the answer. Code
        before ``ask`` runs again, so keep side effects after it. After ``timeout`` seconds
        the answer is ``default``; with no default the step fails (InputTimeoutError).
        """
        return await _port.engine().ask(prompt, schema, timeout, default)

    def respond(self, run_id: str, value: Any, **options: Any) -> Any:
        """Answer what waiting run ``run_id`` asks and resume it to its end (blocking).

        ``request=`` picks the request when several steps wait; ``resume=False`` only
        stores the answer. Pass the same ``store=`` (or ``PLAIT_STORE``) the run used.
        """
        return _port.run_sync(self.respond_async(run_id, value, **options), "respond")

    async def respond_async(self, run_id: str, value: Any, **options: Any) -> Any:
        """Async form of :meth:`respond`."""
        return await _port.engine().respond(self, run_id, value, **options)

    def plot(self, fmt: str = "mermaid") -> str:
        """The flow's plan as Mermaid text (``fmt="mermaid"``) or an HTML page (``"html"``)."""
        return _port.engine().render(self, fmt)


_RESERVED = frozenset(
    {name for name in vars(Flow) if not name.startswith("__")}
    | {"run_id", "events", "state", "name"}
) - {"ask", "respond"}
"""Names a step may not take. ``ask`` and ``respond`` are common step names, so a step may
take them (the flow then reaches those helpers as ``plait.ask`` and ``respond_async``)."""
