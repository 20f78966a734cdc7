"""``FlowBuilder``: a flow from plain data and callables, without writing a class.

What a YAML document or a visual editor has is data — step names, triggers, policies —
and code to bind to each step. The builder takes exactly that and makes the same
:class:`~plait.define.StepDef` values the decorators make, so ``compile()`` turns them
into the same validated :class:`plait.Plan`. :meth:`FlowBuilder.from_plan` goes the other
way: a stored plan plus ``{step name: callable}`` gives a runnable flow again.

Each callable is called as a flow method is: with the flow first (``def fetch(flow):
flow.state["x"] = 1``), then — when it takes a second positional parameter — the output
that triggered it. ``self.state``, ``self.emit(...)``, ``self.ask(...)`` work as in a
``Flow`` class.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from plait.core import DefinitionError
from plait.define import _port
from plait.define._flow import Flow
from plait.define._policies import DEFAULT_MAX_CALLS, CachePolicy, RetryPolicy, StepOptions
from plait.define._steps import StepDef, _merge, _options, is_async_callable, takes_payload
from plait.define._triggers import AllOf, AnyOf, Condition, Leaf, to_condition

_STEP_OPTIONS = ("retry", "timeout", "max_calls", "writes", "cache")


class FlowBuilder:
    """Build a flow step by step; :meth:`build` gives a runnable :class:`plait.Flow`.

    >>> b = FlowBuilder("hello")
    >>> _ = b.start("greet", lambda flow: "hello")
    >>> _ = b.listen("shout", lambda flow, text: text.upper(), "greet")
    >>> b.build().kickoff()
    'HELLO'

    ``state`` is the pydantic model of the state (``None``: a dict), as ``Flow[M]``;
    ``initial_state``, ``reducers`` and ``max_calls`` are what a ``Flow`` class body
    says. Conditions are what the decorators take — a step name, a router label,
    ``or_``/``and_``/``on_event`` — or their plain-data form: ``{"or": [...]}``,
    ``{"and": [...]}``, ``{"event": "name"}`` (as ``Plan.to_dict()`` writes triggers).
    """

    def __init__(
        self,
        name: str,
        *,
        state: type | None = None,
        initial_state: Any = None,
        reducers: Mapping[str, Callable[[Any, Any], Any]] | None = None,
        max_calls: int = DEFAULT_MAX_CALLS,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"a flow needs a name (a non-empty string), got {name!r}")
        self.name = name
        self.state = state
        self.initial_state = initial_state
        self.reducers = dict(reducers or {})
        self.max_calls = max_calls
        self._steps: dict[str, StepDef] = {}
        self._made: type[Flow[Any]] | None = None

    @property
    def steps(self) -> Mapping[str, StepDef]:
        """The steps added so far, by name, as the decorators would define them."""
        return types.MappingProxyType(self._steps)

    def add(
        self,
        name: str,
        fn: Callable[..., Any],
        *,
        start: bool | object = False,
        after: object = None,
        router: bool = False,
        labels: Sequence[str] | None = None,
        retry: RetryPolicy | int | None = None,
        timeout: float | None = None,
        max_calls: int | None = None,
        writes: Sequence[str] | None = None,
        cache: CachePolicy | bool | float | None = None,
    ) -> FlowBuilder:
        """Add step ``name`` running ``fn``; the general form of :meth:`start`,
        :meth:`listen` and :meth:`router`, for definitions read from data.

        ``start``: ``True`` for an entry step (``@start()``), or a condition for a start
        step that runs when it holds (``@start("label")``). ``after``: the condition a
        listener waits for (``@listen(...)``). ``router``: the step returns a label
        (``@router``); with ``start`` or ``after`` it is a router stacked under
        ``@start()``/``@listen()``. ``labels``: the labels a router may return (else
        read from its source). The other options are the decorators'.
        """
        where = f"flow {self.name!r}"
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"{where}: a step needs a name (a non-empty string)")
        if name in self._steps:
            raise DefinitionError(f"{where}: two steps are named {name!r}")
        if not callable(fn):
            raise DefinitionError(f"{where}: step {name!r} must be callable, got {fn!r}")
        if labels is not None and not router:
            raise DefinitionError(f"{where}: step {name!r} has labels= but is not a router")
        is_start = start is not False and start is not None
        start_on = None if isinstance(start, bool) or start is None else condition(start)
        listen_on = None if after is None else condition(after)
        options = _options(
            retry,
            timeout,
            max_calls,
            None if writes is None else tuple(writes),
            None if labels is None else tuple(labels),
            cache,
        )
        if router:
            step = _step(name, fn, "router", False, listen_on, options)
            if is_start:  # @start(...) over @router(...): one step, both conditions
                step = _merge(_step(name, fn, "step", True, start_on, StepOptions()), step)
            elif listen_on is None:
                raise DefinitionError(
                    f"{where}: router {name!r} has nothing to listen to; pass after=... "
                    "(a step or label) or start=True"
                )
        elif is_start and listen_on is not None:
            raise DefinitionError(
                f"{where}: step {name!r} has both start= and after=; give one, and combine "
                "conditions with or_()/and_() (only a router may have both)"
            )
        elif is_start:
            step = _step(name, fn, "step", True, start_on, options)
        elif listen_on is not None:
            step = _step(name, fn, "step", False, listen_on, options)
        else:
            raise DefinitionError(
                f"{where}: step {name!r} has no trigger; pass start=True (an entry step) or "
                "after=... (what it listens to)"
            )
        self._steps[name] = step
        self._made = None
        return self

    def start(
        self, name: str, fn: Callable[..., Any], condition: object = None, **options: Any
    ) -> FlowBuilder:
        """An entry step (``@start()``), or with ``condition`` one that runs when it
        holds (``@start("label")``). ``options``: ``retry``, ``timeout``, ``max_calls``,
        ``writes``, ``cache``."""
        _only(self.name, name, options, _STEP_OPTIONS)
        return self.add(name, fn, start=True if condition is None else condition, **options)

    def listen(
        self, name: str, fn: Callable[..., Any], condition: object, **options: Any
    ) -> FlowBuilder:
        """A step that runs each time ``condition`` holds (``@listen(condition)``)."""
        _only(self.name, name, options, _STEP_OPTIONS)
        if condition is None:
            raise DefinitionError(f"flow {self.name!r}: listener {name!r} needs a condition")
        return self.add(name, fn, after=condition, **options)

    def router(
        self,
        name: str,
        fn: Callable[..., Any],
        condition: object = None,
        *,
        start: bool | object = False,
        labels: Sequence[str] | None = None,
        **options: Any,
    ) -> FlowBuilder:
        """A step whose returned label fires the steps listening to it (``@router``).
        ``start=True`` (or a condition) makes it a start step too, as ``@start()``
        stacked over ``@router()``."""
        _only(self.name, name, options, _STEP_OPTIONS)
        return self.add(
            name, fn, start=start, after=condition, router=True, labels=labels, **options
        )

    def build(self, **options: Any) -> Flow[Any]:
        """A runnable flow. The definition is compiled first, so its errors raise here
        (:class:`plait.PlanError`, listing them all). ``options`` are the ``Flow``
        constructor's (``input_provider``, ``initial_state``). One flow may run many
        times, also at once."""
        return self._flow_class()(**options)

    def plan(self) -> Any:
        """The compiled :class:`plait.Plan` (what ``compile()`` gives for the flow)."""
        return _port.engine().plan(self._flow_class())

    @classmethod
    def from_plan(
        cls,
        plan: Any,
        bindings: Mapping[str, Callable[..., Any]],
        *,
        state: type | None = None,
        reducers: Mapping[str, Callable[[Any, Any], Any]] | None = None,
        initial_state: Any = None,
        **options: Any,
    ) -> Flow[Any]:
        """A runnable flow from a stored flow :class:`plait.Plan` and the code of each
        step (``bindings``: step name -> callable).

        The plan names its state model and reducers but does not hold them: pass
        ``state`` (and, for dict state, ``reducers``) as the flow had them. Raises
        :class:`plait.DefinitionError` naming missing and extra bindings, or what
        differs when the bindings make another plan (a state model whose fields
        changed, say). ``options`` are the ``Flow`` constructor's.
        """
        from plait.define._rebuild import check_plan, check_same, flow_steps

        check_plan(plan, "FlowBuilder.from_plan")
        builder = cls(
            plan.name,
            state=state,
            initial_state=initial_state,
            reducers=reducers,
        )
        builder._steps = flow_steps(plan, bindings)
        check_same(plan, builder.plan())
        return builder.build(**options)

    def _flow_class(self) -> type[Flow[Any]]:
        """The ``Flow`` subclass that compile() and the engine read: made once per
        definition (adding a step makes a new one), never written by the caller."""
        if self._made is None:
            generic: Any = Flow
            base = Flow if self.state is None else generic[self.state]
            body: dict[str, Any] = {
                "name": self.name,
                "max_calls": self.max_calls,
                "reducers": dict(self.reducers),
                "__module__": __name__,
                # Like a class made in a function: no module attribute names it, so a
                # stored run does not claim that code can be imported by this name.
                "__qualname__": f"FlowBuilder.build.<locals>.{self.name}",
                "__doc__": f"The flow {self.name!r}, made by a FlowBuilder.",
            }
            if self.initial_state is not None:
                body["initial_state"] = self.initial_state
            made: type[Flow[Any]] = types.new_class(
                self.name, (base,), exec_body=lambda ns: ns.update(body)
            )
            made.__plait_steps__ = dict(self._steps)
            _port.engine().plan(made)  # definition errors raise now, not at kickoff
            self._made = made
        return self._made


def condition(value: object) -> Condition:
    """A trigger condition from what a decorator takes or from plain data:
    ``"name"``, ``{"or": [...]}``, ``{"and": [...]}``, ``{"event": "name"}``
    (``{"step": ...}`` and ``{"label": ...}`` name a step or label, as a string does)."""
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise DefinitionError(
                f"a condition in data has one key (or, and, event, step, label), got {value!r}"
            )
        ((key, inner),) = value.items()
        if key in ("or", "and"):
            if isinstance(inner, str | bytes) or not isinstance(inner, Sequence) or not inner:
                raise DefinitionError(f"{{{key!r}: ...}} needs a non-empty list, got {inner!r}")
            children = tuple(condition(c) for c in inner)
            return AnyOf(children) if key == "or" else AllOf(children)
        if key in ("event", "step", "label") and isinstance(inner, str) and inner:
            return Leaf("event", inner) if key == "event" else Leaf("ref", inner)
        raise DefinitionError(f"unknown condition {value!r}: use or, and, event, step or label")
    return to_condition(value)


def _step(
    name: str,
    fn: Callable[..., Any],
    kind: Any,
    start: bool,
    cond: Condition | None,
    options: StepOptions,
) -> StepDef:
    return StepDef(
        name=name,
        fn=fn,
        kind=kind,
        start=start,
        condition=cond,
        options=options,
        is_async=is_async_callable(fn),
        takes_input=takes_payload(fn, start=start),
    )


def _only(flow: str, step: str, options: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = [k for k in options if k not in known]
    if unknown:
        raise TypeError(
            f"flow {flow!r}, step {step!r}: unknown option(s) {', '.join(unknown)}; the "
            f"options are {', '.join(known)}"
        )
