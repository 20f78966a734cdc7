"""The one exception tree of plait.

::

    PlaitError
    ├── DefinitionError          a flow, workflow or spec is malformed (raised by compile())
    │   └── PlanError            compile() found problems; lists every one of them
    ├── InputError               run inputs do not fit the flow's state
    ├── RunError                 something went wrong while a run executed
    │   ├── StepError            a step failed (after its retries); carries flow, step, run, attempt
    │   │   ├── StepTimeoutError a step ran past its timeout
    │   │   └── StageValidationError  a pipeline stage's input or output failed validation
    │   ├── RouterError          a router returned a label nobody listens to, or not a str
    │   └── LoopLimitError       a step was called more often than its call limit
    ├── StoreError               a store could not read or write a run
    └── MissingExtraError        an optional dependency is not installed
"""

from __future__ import annotations

from collections.abc import Sequence


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


class StageValidationError(StepError):
    """A pipeline stage's input or output did not pass its validation."""


class RouterError(RunError):
    """A router returned something that no step listens to."""


class LoopLimitError(RunError):
    """A step ran more often than its call limit (a runaway loop)."""


class StoreError(PlaitError):
    """A store could not read or write a run."""


class MissingExtraError(PlaitError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""
