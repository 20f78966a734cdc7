"""Input providers: who answers a flow's ``ask()`` right away, as in CrewAI.

Without a provider, ``ask()`` is durable: the run stops as ``waiting`` and
``respond()`` answers it later (see :meth:`plait.Flow.ask`). With one, ``ask()`` calls
``provider.request_input(message, flow, metadata)`` and returns what it says; the
answer is recorded in the run, so a resumed or retried step gets it back without
asking again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(slots=True)
class InputResponse:
    """What a provider may return instead of a plain string: the text (``None`` for no
    answer) and metadata about who answered, where, when."""

    text: str | None
    metadata: dict[str, Any] | None = None


@runtime_checkable
class InputProvider(Protocol):
    """Answers ``ask()``: ``request_input`` blocks until it has an answer and returns
    it (a ``str``, an :class:`InputResponse`, or ``None`` for none).

    It runs in a worker thread, never on the run's event loop. A provider whose
    ``request_input`` takes only ``(message, flow)`` works too. Set one on the flow
    class (``input_provider = MyProvider()``), per instance
    (``MyFlow(input_provider=...)``), or for every flow (``Flow.input_provider = ...``).
    """

    def request_input(
        self, message: str, flow: Any, metadata: dict[str, Any] | None = None
    ) -> str | InputResponse | None:
        """The answer to ``message``, or ``None`` when there is none."""
        ...


class ConsoleProvider:
    """Asks on the terminal with ``input()`` and returns the stripped line (CrewAI's
    default provider; plait's default is the durable wait)."""

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose

    def request_input(
        self, message: str, flow: Any, metadata: dict[str, Any] | None = None
    ) -> str | None:
        if self.verbose:
            print(f"\n{message}\n")
            return input(">>> ").strip()
        return input(f"{message} ").strip()
