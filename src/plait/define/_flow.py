"""``Flow``: steps as methods of a class, in the style of CrewAI Flows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextvars import Token
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from plait.core import DefinitionError, InputError, RunError
from plait.define import _port
from plait.define._flow_kickoff import Kickoff
from plait.define._flow_run import RUN_SCOPES, RunScope, enter, leave, scope_of
from plait.define._flow_setup import (
    apply_options,
    check_fits,
    fields_of,
    model_of,
    state_type_of,
    with_id,
)
from plait.define._policies import DEFAULT_MAX_CALLS
from plait.define._state import (
    build_state,
    deep_copied,
    explicit_id,
    fills_id,
    is_model_type,
    managed_id,
    new_state_id,
    reducers_of,
)
from plait.define._steps import STEP_ATTR, UNAPPLIED_ATTR, StepDef

StateT = TypeVar("StateT")

_RESERVED: frozenset[str] = frozenset()  # filled in below, from Flow's own names


class Flow(Kickoff, Generic[StateT]):
    """Steps as methods, joined by ``@start``, ``@listen``, ``@router``, ``or_`` and ``and_``.

    ``class MyFlow(Flow)`` keeps its state in a dict; ``class MyFlow(Flow[MyState])`` in an
    instance of the pydantic model ``MyState``. Run it with ``kickoff(inputs=...)`` or
    ``await kickoff_async(inputs=...)``; the result is the output of the last step that
    completed, and ``flow.state`` holds the final state.

    Every state has an ``id`` (a UUID string) from the moment the flow is constructed; a
    model without an ``id`` field gets :class:`plait.FlowState`'s. The state's id is its
    run's id: the first run of an instance takes it as its ``run_id``; each later run gets
    a new one (runs are stored by id), and ``inputs={"id": ...}`` names the run.

    One instance may run many times at once (a web handler that keeps one flow): each run
    has its own state, and inside a step ``self.state`` and ``self.run_id`` are that run's;
    outside any run they show the last run's, ``events`` the events of the run that ended
    last.

    Class options: ``name`` (defaults to the class name), ``max_calls`` (default call
    limit per step; CrewAI's ``max_method_calls`` also works), ``reducers`` (``{"key":
    fn}`` for dict state), ``initial_state`` (a dict, or as in CrewAI a pydantic model
    class or instance, which then is the state type when the class does not say
    ``Flow[...]``), ``input_provider`` (who answers :meth:`ask`). The constructor takes
    ``initial_state``, ``input_provider`` and the fields a subclass declares with a type.
    """

    __plait_steps__: ClassVar[dict[str, StepDef]] = {}
    __plait_state_type__: ClassVar[type | None] = None
    name: ClassVar[str] = "Flow"
    max_calls: ClassVar[int] = DEFAULT_MAX_CALLS
    reducers: ClassVar[Mapping[str, Callable[[Any, Any], Any]]] = {}
    initial_state: ClassVar[Any] = None
    input_provider: Any = None
    """Answers :meth:`ask` right away (see :class:`plait.InputProvider`); ``None``: the
    run waits for :meth:`respond`."""

    # Instance attributes, with class defaults so that a subclass whose __init__ does not
    # call super().__init__() still works. Immutable defaults only: each instance makes
    # its own list when it first needs one.
    _state: Any = None
    _initial: Any = None
    _state_type: type | None = None
    _ran: bool = False
    _last_run_id: str = ""
    _in_flight: tuple[RunScope, ...] = ()  # the runs of this instance going on now
    _listeners: Sequence[Callable[[Any], None]] = ()
    events: Sequence[Any] = ()
    """The events of the run that ended last."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        if "max_method_calls" in cls.__dict__:  # CrewAI's name for it
            cls.max_calls = cls.__dict__["max_method_calls"]
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
                    if not step.start and step.condition is None:
                        raise DefinitionError(
                            f"flow {cls.__name__!r}: router {attr!r} has nothing to listen "
                            f"to; write @router(step) or stack @router() under @start() or "
                            "@listen(step)"
                        )
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
        cls.__plait_state_type__ = state_type_of(cls, Flow)

    def __init__(self, **options: Any) -> None:
        if "initial_state" in options:
            self._use_initial(options.pop("initial_state"), "initial_state")
        if options:
            apply_options(self, options, fields_of(type(self), Flow))
        # The state is made when first asked for (``state``), or by the first run: a flow
        # made for one kickoff (the CrewAI way) builds one state, not two.

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

    @property
    def method_outputs(self) -> list[Any]:
        """The last run's step outputs, in the order the steps completed (CrewAI's)."""
        return [e.output for e in self.events if type(e).__name__ == "StepCompleted"]

    @property
    def flow_id(self) -> str:
        """The state's id (CrewAI's ``flow_id``): the id the next first run takes, and
        the run's id once it ran; ``""`` for a model whose ``id`` plait does not fill."""
        return managed_id(self.state)

    # -- state -----------------------------------------------------------------------

    @property
    def state(self) -> StateT:
        """The run's state: a dict, or the flow's pydantic model instance.

        Inside a run (its steps, and what they start) it is that run's state, even while
        other runs of this instance go on at the same time; outside, the last run's. Before
        the first run it is the state the run will start from: changes made to it then
        (``flow.state.topic = "x"``) are kept, as in CrewAI.
        """
        scopes = RUN_SCOPES.get()  # scope_of(self), inlined: read on every state access
        if scopes:
            scope = scopes.get(id(self))
            if scope is not None:
                return scope.state  # type: ignore[no-any-return]
        in_flight = self._in_flight  # read outside a run's context (a thread a step
        if len(in_flight) == 1:  # started itself, say): the one run going on
            return in_flight[0].state  # type: ignore[no-any-return]
        if in_flight:
            raise RunError(
                f"flow {self.name!r}: self.state was read outside its run's context while "
                f"{len(in_flight)} runs of this instance are going on, so it is not known "
                "whose state is meant; hand the state to the thread you start in a step "
                "(or start it with contextvars.copy_context().run)",
                flow=self.name,
            )
        if self._state is None:  # a subclass whose __init__ skipped super().__init__()
            self._state = self._initial = self._new_state(None, new_state_id(), fresh=True)
        return self._state  # type: ignore[no-any-return]

    @state.setter
    def state(self, value: StateT) -> None:
        scope = scope_of(self)
        if scope is not None:
            raise RunError(
                f"flow {self.name!r}: do not replace self.state while it runs; change its "
                "fields instead",
                flow=self.name,
                run_id=scope.run_id,
            )
        self._use_initial(value, "the state")
        self._state = self._initial = self._new_state(None, new_state_id(), fresh=True)

    @property
    def run_id(self) -> str:
        """The run's id: inside a run, that run's; outside, the last run's (``""`` before
        the first)."""
        scope = scope_of(self)
        return self._last_run_id if scope is None else scope.run_id

    @run_id.setter
    def run_id(self, value: str) -> None:
        self._last_run_id = value

    @property
    def _trigger_payload(self) -> Any:
        """The run's ``crewai_trigger_payload`` input (``None`` outside a run)."""
        scope = scope_of(self)
        return None if scope is None else scope.trigger_payload

    def _enter_run(
        self, state: Any, run_id: str, trigger_payload: Any = None
    ) -> Token[Mapping[int, RunScope] | None]:
        """For the engine: a run of this flow starts in this context with ``state``.

        ``flow.state`` and ``flow.run_id`` show it from now on outside the run too (the
        last run started, and once they end the last run ended)."""
        self._state, self._last_run_id = state, run_id
        scope = RunScope(state, run_id, trigger_payload)
        self._in_flight = (*self._in_flight, scope)
        return enter(self, scope)

    def _leave_run(
        self, token: Token[Mapping[int, RunScope] | None], events: Sequence[Any]
    ) -> None:
        """For the engine: the run :meth:`_enter_run` began has ended with ``events``."""
        scope = scope_of(self)
        leave(token)
        self._in_flight = tuple(s for s in self._in_flight if s is not scope)
        if scope is not None:
            self._state, self._last_run_id = scope.state, scope.run_id
        self.events = events

    def _use_initial(self, value: Any, what: str) -> None:
        """Start runs from ``value`` (a model class or instance, or a dict): CrewAI's
        ``MyFlow(initial_state=...)``, or ``self.state = ...`` before a run."""
        declared = type(self).__plait_state_type__
        if value is dict:
            value = {}
        model = model_of(value)
        if model is None and not isinstance(value, Mapping):
            raise DefinitionError(
                f"flow {self.name!r}: {what} must be a dict or a pydantic model (a class or "
                f"an instance), got {type(value).__name__}"
            )
        check_fits(self.name, model, declared, what)
        self._state_type = with_id(model) if model is not None and declared is None else None
        self._initial = {} if isinstance(value, type) else value  # a class: its defaults
        self._state = None

    def _state_type_now(self) -> type | None:
        return self._state_type or type(self).__plait_state_type__

    def _new_state(self, inputs: Mapping[str, Any] | None, run_id: str, fresh: bool = False) -> Any:
        """A state from the class's ``initial_state``, or the instance's (the constructor's,
        ``self.state = ...``, or the state before the first run), updated by ``inputs``.

        Its id is ``run_id``, unless ``inputs`` give one or (``fresh``, when the flow is
        made) the initial state names its own."""
        chosen = self._initial
        if chosen is None:
            chosen = self.initial_state
        base: Any = None
        if is_model_type(type(chosen)):
            base = chosen.model_dump()
            if (fresh and not explicit_id(chosen)) or (not fresh and managed_id(chosen)):
                base.pop("id", None)
        elif isinstance(chosen, Mapping):
            base = deep_copied(chosen)
            if not fresh:
                base.pop("id", None)
        state_type = self._state_type_now()
        try:
            return build_state(
                self.name,
                state_type,
                base,
                inputs,
                run_id,
                reducers_of(state_type, self.reducers),
                unknown="ignore",
            )
        except InputError:
            if not fresh or state_type is None:
                raise
        # Made with the flow, before inputs fill its required fields: a state to read and
        # change until the run validates it (CrewAI needs defaults for every field).
        data = dict(base or {})
        if fills_id(state_type) and "id" not in data:
            data["id"] = run_id
        return state_type.model_construct(**data)  # type: ignore[attr-defined]

    def _restored_state(self, values: Mapping[str, Any], run_id: str) -> Any:
        """The state a stored run had (``values``), for resume."""
        state_type = self._state_type_now()
        return build_state(
            self.name, state_type, None, values, run_id, reducers_of(state_type, self.reducers)
        )

    def _next_run_id(self, inputs: Mapping[str, Any]) -> str:
        """``inputs["id"]``; else for the instance's first run the id its state has; else
        a new one."""
        given = inputs.get("id")
        if isinstance(given, str) and given:
            return given
        if self._ran or self._state is None:  # nobody saw the state yet: any id will do
            return new_state_id()
        return managed_id(self._state) or new_state_id()

    # -- running ---------------------------------------------------------------------

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

    def ask(
        self,
        message: str,
        timeout: float | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        schema: Any = None,
        default: Any = _port.NO_DEFAULT,
    ) -> Any:
        """From inside a step: a person's answer to ``message``.

        In a ``def`` step it returns the answer; in an ``async def`` step write
        ``await self.ask(...)``. With an :attr:`input_provider` (CrewAI's way), the
        provider answers at once — ``metadata`` goes to it — and ``None`` means no answer
        (it timed out after ``timeout`` seconds, or failed). Without one the wait is
        durable: the step stops, the run is stored as ``waiting`` (``kickoff`` raises
        :class:`plait.WaitingForInput`), and :meth:`respond` answers and resumes it,
        running this step again from its start; code before ``ask`` runs again, so keep
        side effects after it. After ``timeout`` seconds of waiting the answer is
        ``default``; with no default the step fails (InputTimeoutError). Either way the
        answer is recorded in the run, validated into ``schema`` (a pydantic model or a
        type such as ``bool``; any value when None), and a resumed step gets it back.
        """
        return _port.engine().ask(
            self, message, timeout=timeout, metadata=metadata, schema=schema, default=default
        )

    def plot(
        self, filename: str | None = None, show: bool = True, *, fmt: str | None = None
    ) -> str:
        """The flow's plan as Mermaid text (no arguments, or ``fmt="mermaid"``), as an
        HTML page (``fmt="html"``), or — as in CrewAI — written as an HTML page to
        ``filename`` (``.html`` added when it has no suffix; opened in a browser when
        ``show``), returning the file's absolute path. ``plot("mermaid")`` and
        ``plot("html")`` are formats, not file names."""
        if filename in ("mermaid", "html") and fmt is None:
            fmt, filename = filename, None
        if filename is None:
            return _port.engine().render(self, fmt or "mermaid")
        path = Path(filename).absolute()
        if not path.suffix:
            path = path.with_suffix(".html")
        path.write_text(_port.engine().render(self, fmt or "html"), encoding="utf-8")
        if show:
            import webbrowser

            webbrowser.open(path.as_uri())
        return str(path)

    @classmethod
    def flow_definition(cls) -> Any:
        """The flow's serialisable definition: its compiled :class:`plait.Plan` (steps,
        triggers, router labels, state fields); ``plan.to_dict()`` gives it as JSON."""
        return _port.engine().plan(cls)


_RESERVED = frozenset(
    {name for name in (*vars(Flow), *vars(Kickoff)) if not name.startswith("__")}
    | {"run_id", "events", "state", "name"}
) - {"ask", "respond"}
"""Names a step may not take. ``ask`` and ``respond`` are common step names, so a step may
take them (the flow then reaches those helpers as ``plait.ask`` and ``respond_async``)."""
