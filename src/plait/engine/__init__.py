"""Composition: wires definitions, plans, the runtime, executors and stores together.

Importing it installs the engine behind ``Flow.kickoff()`` and ``Workflow.run()``.
"""

from plait.define import _port
from plait.engine._backends import open_store
from plait.engine._engine import ENGINE, Engine

_port.install(ENGINE)

__all__ = ["ENGINE", "Engine", "open_store"]
