"""``kickoff()`` and the other ways to run a flow, with their options spelled out.

A mixin of :class:`plait.Flow`: each method hands the flow to the engine (through the
port in :mod:`plait.define._port`) and refuses an option it does not know with a
``TypeError`` that says how to pass it (``kickoff(text="x")`` means
``kickoff(inputs={"text": "x"})``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Never

from plait.define import _port
from plait.define._flow_run import (
    RESPOND_OPTIONS,
    RESUME_OPTIONS,
    RUN_OPTIONS,
    as_raised,
    extra,
    refuse_unknown,
    streamed,
)


class Kickoff:
    """The running methods of :class:`plait.Flow`."""

    def kickoff(
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
        """Run the flow to the end (blocking) and return the last step's output.

        ``inputs`` fill the state (CrewAI's one argument). plait's options: ``store`` (a
        Store or URL such as ``"sqlite:///runs.db"``; default ``PLAIT_STORE`` or memory),
        ``executor``, ``run_id`` (else ``inputs["id"]``, or a new one), ``listeners``
        (called with each event) and ``durability`` (``"sync"`` or ``"async"``). Anything
        else is refused with a ``TypeError`` that says how to pass it.

        A step's exception is raised as it is (``except ValueError:`` works), with notes
        naming the flow, step, run and attempt; plait's own failures raise
        :class:`plait.StepError` (a timeout) or another :class:`plait.RunError`. Inside a
        running event loop (Jupyter, an async app) the run goes on a worker thread. One
        instance may run many times at once; each run has its own state.
        """
        refuse_unknown(f"{type(self).__name__}.kickoff", unknown, RUN_OPTIONS)
        work = self.kickoff_async(
            inputs,
            store=store,
            executor=executor,
            run_id=run_id,
            listeners=listeners,
            durability=durability,
        )
        return _port.run_sync(work, "kickoff")

    async def kickoff_async(
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
        """Run the flow to the end and return the last step's output (see :meth:`kickoff`)."""
        if unknown:
            refuse_unknown(f"{type(self).__name__}.kickoff_async", unknown, RUN_OPTIONS)
        work = _port.engine().run(
            self,
            inputs,
            store=store,
            executor=executor,
            run_id=run_id,
            listeners=listeners,
            durability=durability,
        )
        return await as_raised(work)

    async def akickoff(
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
        """CrewAI's name for :meth:`kickoff_async`."""
        refuse_unknown(f"{type(self).__name__}.akickoff", unknown, RUN_OPTIONS)
        return await self.kickoff_async(
            inputs,
            store=store,
            executor=executor,
            run_id=run_id,
            listeners=listeners,
            durability=durability,
        )

    def resume(
        self,
        run_id: str,
        *,
        store: Any = None,
        executor: Any = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        durability: str = "sync",
        **unknown: Never,
    ) -> Any:
        """Go on with a stored run (after a crash or a failure) to its end (blocking).

        Steps the log shows completed do not run again; steps that had started, or failed
        last, run again. Pass the same ``store=`` (or ``PLAIT_STORE``) the run used.
        """
        refuse_unknown(f"{type(self).__name__}.resume", unknown, RESUME_OPTIONS)
        work = self.resume_async(
            run_id, store=store, executor=executor, listeners=listeners, durability=durability
        )
        return _port.run_sync(work, "resume")

    async def resume_async(
        self,
        run_id: str,
        *,
        store: Any = None,
        executor: Any = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        durability: str = "sync",
        **unknown: Never,
    ) -> Any:
        """Async form of :meth:`resume`."""
        refuse_unknown(f"{type(self).__name__}.resume_async", unknown, RESUME_OPTIONS)
        work = _port.engine().resume(
            self,
            run_id,
            store=store,
            executor=executor,
            listeners=listeners,
            durability=durability,
        )
        return await as_raised(work)

    def stream(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        store: Any = None,
        executor: Any = None,
        run_id: str | None = None,
        listeners: Iterable[Callable[[Any], None]] = (),
        durability: str = "sync",
        **unknown: Never,
    ) -> AsyncIterator[Any]:
        """Run the flow, yielding its events (``StepStarted``, ``StepCompleted``...) live.

        The run ends with the stream. To stop early, close the stream —
        ``async with contextlib.aclosing(flow.stream(...)) as events:`` — which cancels
        the run; a bare ``break`` leaves it running until the stream is garbage-collected.
        A failed run yields ``RunFailed`` and then raises its error (as ``kickoff`` does).
        """
        refuse_unknown(f"{type(self).__name__}.stream", unknown, RUN_OPTIONS)
        events = _port.engine().stream(
            self,
            inputs,
            store=store,
            executor=executor,
            run_id=run_id,
            listeners=listeners,
            durability=durability,
        )
        return streamed(events)

    def respond(self, run_id: str, value: Any, **options: Any) -> Any:
        """Answer what waiting run ``run_id`` asks and resume it to its end (blocking).

        ``request=`` picks the request when several steps wait; ``resume=False`` only
        stores the answer; ``text=True`` reads the answer as a person's text. The other
        options are :meth:`resume`'s: pass the same ``store=`` (or ``PLAIT_STORE``) the
        run used.
        """
        refuse_unknown(
            f"{type(self).__name__}.respond", extra(options, RESPOND_OPTIONS), RESPOND_OPTIONS
        )
        return _port.run_sync(self.respond_async(run_id, value, **options), "respond")

    async def respond_async(self, run_id: str, value: Any, **options: Any) -> Any:
        """Async form of :meth:`respond`."""
        refuse_unknown(
            f"{type(self).__name__}.respond_async", extra(options, RESPOND_OPTIONS), RESPOND_OPTIONS
        )
        return await as_raised(_port.engine().respond(self, run_id, value, **options))
