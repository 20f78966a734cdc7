"""Composition: wires definitions, plans, the runtime, executors and stores together.

Importing it installs the engine behind ``Flow.kickoff()`` and ``Workflow.run()``.
"""

from plait.define import install_engine
from plait.engine._backends import open_store
from plait.engine._engine import ENGINE, Engine
from plait.engine._loader import (
    ALLOW_ENV,
    TargetError,
    allowed_paths,
    load_definition,
    load_target,
)
from plait.engine._respond import record_answer
from plait.engine._travel import (
    MISSING,
    Checkpoint,
    checkpoints,
    diff,
    fork,
    rerun_from,
    state_at,
)
from plait.engine._worker import Recovered, recover, work

install_engine(ENGINE)

__all__ = [
    "ALLOW_ENV",
    "ENGINE",
    "MISSING",
    "Checkpoint",
    "Engine",
    "Recovered",
    "TargetError",
    "allowed_paths",
    "checkpoints",
    "diff",
    "fork",
    "load_definition",
    "load_target",
    "open_store",
    "record_answer",
    "recover",
    "rerun_from",
    "state_at",
    "work",
]
