"""``Workflow``: a graph of tasks joined by ``depends_on``, without a class."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Never, TypeVar

from plait.core import DefinitionError
from plait.define import _port
from plait.define._flow_run import (
    RESPOND_OPTIONS,
    RESUME_OPTIONS,
    RUN_OPTIONS,
    extra,
    refuse_unknown,
)
from plait.define._policies import DEFAULT_MAX_CALLS, CachePolicy, RetryPolicy
from plait.define._steps import StepDef, _options, is_async_callable
from plait.define._triggers import AllOf, Condition, Leaf, ref_name

F = TypeVar("F", bound=Callable[..., Any])


Shape = tuple[tuple[str, ...], tuple[str, ...], bool, tuple[str, ...]]
"""(required names, optional names, takes ``**kwargs``, positional-only names)."""


def _read_shape(fn: Callable[..., Any]) -> Shape:
    required: list[str] = []
    optional: list[str] = []
    positional: list[str] = []
    var_kw = False
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            continue
        if p.kind is p.POSITIONAL_ONLY:
            positional.append(p.name)
        if p.default is p.empty:
            required.append(p.name)
        else:
            optional.append(p.name)
    return tuple(required), tuple(optional), var_kw, tuple(positional)


_cached_shape = functools.lru_cache(maxsize=4096)(_read_shape)


def _shape(fn: Callable[..., Any]) -> Shape:
    try:
        return _cached_shape(fn)
    except TypeError:  # an unhashable callable object (or no signature: raises again)
        return _read_shape(fn)


def task_params(fn: Callable[..., Any]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(required names, optional names, takes ``**kwargs``) of a task function."""
    required, optional, var_kw, _ = _shape(fn)
    return required, optional, var_kw


def _check_signature(workflow: str, task: str, fn: Callable[..., Any]) -> None:
    """Tasks are called with keyword arguments: their signature must be readable and take
    no positional-only parameters."""
    try:
        positional = _shape(fn)[3]
    except (TypeError, ValueError):
        raise DefinitionError(
            f"workflow {workflow!r}: cannot read the parameters of task {task!r} ({fn!r}); "
            "wrap it in a def that calls it"
        ) from None
    if positional:
        raise DefinitionError(
            f"workflow {workflow!r}: task {task!r} takes positional-only parameter(s) "
            f"{', '.join(map(repr, positional))}, but tasks receive their arguments by "
            "name; remove the '/' from its signature"
        )


def _after(deps: tuple[str, ...]) -> Condition | None:
    """The trigger of a task: none (a start), one dependency, or and_ of them all."""
    if not deps:
        return None
    if len(deps) == 1:
        return Leaf("step", deps[0])
    return AllOf(tuple(Leaf("step", d) for d in deps))


class Workflow:
    """Tasks with dependencies. Each task receives its dependencies' outputs by parameter
    name (``def report(summary, stats): ...`` depends on ``summary`` and ``stats``); other
    parameters are read from the run's inputs. Tasks whose dependencies are done run in
    parallel; cycles are rejected before anything runs.

    >>> wf = Workflow("etl")
    >>> @wf.task()
    ... def extract():
    ...     return [1, 2, 3]
    >>> @wf.task(depends_on=[extract])
    ... def total(extract):
    ...     return sum(extract)
    >>> wf.run()
    6
    """

    def __init__(
        self,
        name: str,
        *,
        state: type | None = None,
        reducers: Mapping[str, Callable[[Any, Any], Any]] | None = None,
        max_calls: int = DEFAULT_MAX_CALLS,
    ) -> None:
        if not name:
            raise DefinitionError("a Workflow needs a name")
        self.name = name
        self.__plait_state_type__ = state
        self.reducers = dict(reducers or {})
        self.max_calls = max_calls
        self.__plait_steps__: dict[str, StepDef] = {}
        self.state: Any = None
        self.plan: Any = None
        """The compiled plan, cached by ``compile()`` until a task is added."""
        self.run_id = ""
        self.events: list[Any] = []
        """The events of the run that ended last (runs may overlap: each has its own)."""

    @classmethod
    def from_plan(
        cls,
        plan: Any,
        bindings: Mapping[str, Callable[..., Any]],
        *,
        state: type | None = None,
        reducers: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    ) -> Workflow:
        """A runnable workflow from a stored workflow :class:`plait.Plan` and the code of
        each task (``bindings``: task name -> callable); ``state`` and ``reducers`` as the
        workflow had them. Raises :class:`plait.DefinitionError` naming missing and extra
        bindings, or what differs when the bindings make another plan."""
        from plait.define._rebuild import check_plan, check_same, workflow_of

        check_plan(plan, "Workflow.from_plan")
        wf = workflow_of(plan, bindings, state, reducers)
        check_same(plan, _port.engine().plan(wf))
        return wf

    def add(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        depends_on: Sequence[str | Callable[..., Any]] = (),
        retry: RetryPolicy | int | None = None,
        timeout: float | None = None,
        writes: Sequence[str] | None = None,
        cache: CachePolicy | bool | float | None = None,
    ) -> StepDef:
        """Add ``fn`` as a task; it runs after every task in ``depends_on`` completed."""
        if not callable(fn):
            raise DefinitionError(f"workflow {self.name!r}: task {fn!r} is not callable")
        task_name = name or getattr(fn, "__name__", "")
        if not task_name or task_name == "<lambda>":
            raise DefinitionError(
                f"workflow {self.name!r}: give this task a name: wf.add(fn, name='...')"
            )
        if task_name in self.__plait_steps__:
            raise DefinitionError(f"workflow {self.name!r}: two tasks are named {task_name!r}")
        _check_signature(self.name, task_name, fn)
        deps = tuple(ref_name(d) for d in depends_on)
        if len(set(deps)) != len(deps):
            raise DefinitionError(
                f"workflow {self.name!r}: task {task_name!r} lists a dependency twice"
            )
        step = StepDef(
            name=task_name,
            fn=fn,
            start=not deps,
            condition=_after(deps),
            options=_options(
                retry, timeout, None, None if writes is None else tuple(writes), None, cache
            ),
            is_async=is_async_callable(fn),
            takes_input=False,
            depends_on=deps,
        )
        self.__plait_steps__[task_name] = step
        self.plan = None
        return step

    def task(
        self,
        *,
        name: str | None = None,
        depends_on: Sequence[str | Callable[..., Any]] = (),
        retry: RetryPolicy | int | None = None,
        timeout: float | None = None,
        writes: Sequence[str] | None = None,
        cache: CachePolicy | bool | float | None = None,
    ) -> Callable[[F], F]:
        """Decorator form of :meth:`add`."""

        def decorate(fn: F) -> F:
            self.add(
                fn,
                name=name,
                depends_on=depends_on,
                retry=retry,
                timeout=timeout,
                writes=writes,
                cache=cache,
            )
            return fn

        return decorate

    def run(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        store: Any = None,
        executor: Any = None,
        run_id: str | None = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        durability: str = "sync",
        **unknown: Never,
    ) -> Any:
        """Run every task (blocking); returns ``{task: output}`` of the tasks nothing
        depends on, or that single output when there is one. The options are
        :meth:`plait.Flow.kickoff`'s; one workflow may run many times at once."""
        refuse_unknown("Workflow.run", unknown, RUN_OPTIONS)
        work = self.run_async(
            inputs,
            store=store,
            executor=executor,
            run_id=run_id,
            listeners=listeners,
            durability=durability,
        )
        return _port.run_sync(work, "run")

    async def run_async(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        store: Any = None,
        executor: Any = None,
        run_id: str | None = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        durability: str = "sync",
        **unknown: Never,
    ) -> Any:
        """Async form of :meth:`run`."""
        refuse_unknown("Workflow.run_async", unknown, RUN_OPTIONS)
        return await _port.engine().run(
            self,
            inputs,
            store=store,
            executor=executor,
            run_id=run_id,
            listeners=listeners,
            durability=durability,
        )

    def resume(self, run_id: str, **options: Any) -> Any:
        """Go on with a stored run to its end (blocking); completed tasks do not run
        again. Pass the same ``store=`` (or ``PLAIT_STORE``) the run used; the options
        are :meth:`plait.Flow.resume`'s."""
        refuse_unknown("Workflow.resume", extra(options, RESUME_OPTIONS), RESUME_OPTIONS)
        return _port.run_sync(self.resume_async(run_id, **options), "resume")

    async def resume_async(self, run_id: str, **options: Any) -> Any:
        """Async form of :meth:`resume`."""
        refuse_unknown("Workflow.resume_async", extra(options, RESUME_OPTIONS), RESUME_OPTIONS)
        return await _port.engine().resume(self, run_id, **options)

    def respond(self, run_id: str, value: Any, **options: Any) -> Any:
        """Answer what waiting run ``run_id`` asks (a task's ``plait.ask``) and resume it
        to its end (blocking); see :meth:`plait.Flow.respond`."""
        refuse_unknown("Workflow.respond", extra(options, RESPOND_OPTIONS), RESPOND_OPTIONS)
        return _port.run_sync(self.respond_async(run_id, value, **options), "respond")

    async def respond_async(self, run_id: str, value: Any, **options: Any) -> Any:
        """Async form of :meth:`respond`."""
        known = RESPOND_OPTIONS
        refuse_unknown("Workflow.respond_async", extra(options, known), known)
        return await _port.engine().respond(self, run_id, value, **options)

    @property
    def state_history(self) -> list[Any]:
        """The last run's ``StateChanged`` events: which task changed which keys, when."""
        return [e for e in self.events if type(e).__name__ == "StateChanged"]

    def stream(self, inputs: Mapping[str, Any] | None = None, **options: Any) -> AsyncIterator[Any]:
        """Run the workflow, yielding its events live (options as :meth:`run`'s)."""
        refuse_unknown("Workflow.stream", extra(options, RUN_OPTIONS), RUN_OPTIONS)
        return _port.engine().stream(self, inputs, **options)

    def plot(self, fmt: str = "mermaid") -> str:
        """The workflow's plan as Mermaid text or an HTML page."""
        return _port.engine().render(self, fmt)
