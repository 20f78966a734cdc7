"""L5: the guide's workflow patterns as helpers that build ordinary workflows.

``pipeline``, ``scatter_gather`` and ``map_reduce`` return a :class:`plait.Workflow`
whose first task reads the run input ``data`` (``wf.run({"data": ...})``). ``context``,
``emit``, ``map`` and ``ask`` work inside any step. Event-driven flows need no helper: listen with
``@listen(on_event("name"))`` and fire with ``emit("name", payload)``.
"""

from plait.patterns._map_reduce import map_reduce
from plait.patterns._pipeline import Stage, pipeline
from plait.patterns._scatter import scatter_gather
from plait.patterns._step import ask, context, emit, map

__all__ = ["Stage", "ask", "context", "emit", "map", "map_reduce", "pipeline", "scatter_gather"]
