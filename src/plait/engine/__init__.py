"""Composition: wires definitions, plans, the runtime, executors and stores together.

Importing it installs the engine behind ``Flow.kickoff()`` and ``Workflow.run()``.
"""

from plait.define import install_engine
from plait.engine._backends import open_store
from plait.engine._engine import ENGINE, Engine
from plait.engine._travel import MISSING, Checkpoint, checkpoints, diff, fork, state_at

install_engine(ENGINE)

__all__ = [
    "ENGINE",
    "MISSING",
    "Checkpoint",
    "Engine",
    "checkpoints",
    "diff",
    "fork",
    "open_store",
    "state_at",
]
