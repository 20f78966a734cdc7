"""L2: compile definitions into validated, serialisable plans; render them."""

from plait.plan._compile import compile, definition_parts
from plait.plan._model import PLAN_FORMAT, Plan, PlanStep, condition_from_dict, condition_to_dict
from plait.plan._render import render

__all__ = [
    "PLAN_FORMAT",
    "Plan",
    "PlanStep",
    "compile",
    "condition_from_dict",
    "condition_to_dict",
    "definition_parts",
    "render",
]
