"""The one exception tree of plait.

::

    PlaitError
    ├── DefinitionError          a flow, workflow or spec is malformed (raised by compile())
    │   └── PlanError            compile() found problems; lists every one of them
    ├── InputError               run inputs do not fit the flow's state
    ├── RunError                 something went wrong while a run executed
    │   ├── StepError            a step failed (after its retries); carries flow, step, run, attempt
    │   │   ├── StepTimeoutError a step ran past its timeout
    │   │   ├── InputTimeoutError    nobody answered a step's ask() in time
    │   │   └── StageValidationError  a pipeline stage's input or output failed validation
    │   ├── RunBusyError         another process runs this run now (it holds the run's lease)
    │   ├── RouterError          a router's result could not be made a label (kept for callers)
    │   └── LoopLimitError       a step was called more often than its call limit
    ├── WaitingForInput          the run stopped to wait for a person's answer (not a failure)
    ├── StoreError               a store could not read or write a run
    ├── ModelError               a model call failed: unknown model, missing key, unreachable
    │   └── ModelOutputError     the model's output did not fit the schema, after repairs
    ├── ToolError                a tool was called wrongly, is unknown, or failed
    ├── AgentError               an agent could not finish its task
    │   └── MaxIterationsError   it hit max_iterations without a final answer
    └── MissingExtraError        an optional dependency is not installed
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PlaitError(Exception):
    """Root of every error plait raises on purpose."""


class DefinitionError(PlaitError):
    """A definition (flow, workflow, spec) is malformed."""


class PlanError(DefinitionError):
    """``compile()`` found one or more problems; ``problems`` lists all of them.

    ``kind`` is what was compiled (``"flow"`` or ``"workflow"``), ``name`` its name.
    """

    def __init__(self, name: str, problems: Sequence[str], *, kind: str = "flow") -> None:
        self.name = name
        self.kind = kind
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{kind} {name!r} has {count} {noun}:\n{lines}")


class InputError(PlaitError):
    """Run inputs do not fit the flow's state (unknown field, wrong type)."""


class RunError(PlaitError):
    """A run could not complete."""

    def __init__(self, message: str, *, flow: str = "", run_id: str = "") -> None:
        super().__init__(message)
        self.flow = flow
        self.run_id = run_id


class StepError(RunError):
    """A step failed after its last attempt; the user's exception is ``__cause__``."""

    def __init__(self, message: str, *, flow: str, run_id: str, step: str, attempt: int) -> None:
        super().__init__(message, flow=flow, run_id=run_id)
        self.step = step
        self.attempt = attempt


class StepTimeoutError(StepError):
    """A step ran past its timeout."""


class InputTimeoutError(StepError):
    """Nobody answered a step's ``ask()`` before its timeout, and it had no default."""


class WaitingForInput(PlaitError):
    """The run is waiting for a person: a step called ``ask()``. Not a failure.

    The run is stored with status ``waiting``; answer with ``respond(run_id, value)`` (or
    ``plait runs respond``), which resumes it. ``requests`` lists what is asked: dicts with
    ``key``, ``step``, ``prompt``, ``schema`` and ``deadline``.
    """

    def __init__(self, message: str, *, flow: str, run_id: str, requests: list[dict[str, Any]]):
        super().__init__(message)
        self.flow = flow
        self.run_id = run_id
        self.requests = requests


class StageValidationError(StepError):
    """A pipeline stage's input or output did not pass its validation."""


class RunBusyError(RunError):
    """Another live process runs this run now: it holds the run's lease."""


class RouterError(RunError):
    """A router's result could not be routed. plait follows CrewAI here: a label nobody
    listens to (or ``None``) ends that branch, so the engine itself raises this no more;
    it stays exported for code that catches it."""


class LoopLimitError(RunError):
    """A step ran more often than its call limit (a runaway loop)."""


class StoreError(PlaitError):
    """A store could not read or write a run."""


class ModelError(PlaitError):
    """A model call failed; ``provider`` and ``model`` name what was called."""

    def __init__(self, message: str, *, provider: str = "", model: str = "") -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model


class ModelOutputError(ModelError):
    """The model's output did not fit the requested schema, even after repair retries."""


class ToolError(PlaitError):
    """A tool was called with wrong arguments, is not registered, or failed."""

    def __init__(self, message: str, *, tool: str = "") -> None:
        super().__init__(message)
        self.tool = tool


class AgentError(PlaitError):
    """An agent could not finish its task."""

    def __init__(self, message: str, *, agent: str = "") -> None:
        super().__init__(message)
        self.agent = agent


class MaxIterationsError(AgentError):
    """An agent used all its ``max_iterations`` without a final answer."""


class MissingExtraError(PlaitError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""
