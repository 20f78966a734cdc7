"""``FlowState``: a pydantic state base whose ``id`` plait fills, as CrewAI's does.

Kept apart from the rest of ``plait.define`` because it imports pydantic, which
``import plait`` does not load until something needs it.
"""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, Field

from plait.define._state import new_state_id


class FlowState(BaseModel):
    """Base for a flow's pydantic state: every instance has an ``id`` (a UUID string).

    A flow's state holds the id of its run: the first run of a flow instance takes the
    id its state got when the flow was constructed, later runs a fresh one. A state
    model without an ``id`` field gets this one (plait derives ``class M(FlowState, M)``,
    as CrewAI does), so ``flow.state.id`` always works.
    """

    id: str = Field(default_factory=new_state_id, description="The flow run's id")


@cache
def with_id(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with :class:`FlowState`'s ``id``: itself when it has an ``id`` field,
    else a subclass of both that keeps ``model``'s name (one per model)."""
    if "id" in model.model_fields:
        return model
    derived = type(model.__name__, (FlowState, model), {"__module__": model.__module__})
    derived.__qualname__ = model.__qualname__
    derived.__doc__ = model.__doc__
    return derived
