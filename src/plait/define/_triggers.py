"""Trigger conditions: what makes a step fire.

A condition is a tree. Leaves name something that happens in a run; ``or_`` and ``and_``
combine them and nest. Leaves given by the user are references (a step function or a
string) that ``compile()`` resolves to a concrete leaf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from plait.core import DefinitionError

Ref = str | Callable[..., Any]
"""What a user may listen to: a step (its function) or a name (a step name or a label)."""

LeafKind = Literal["ref", "step", "label", "event"]


@dataclass(frozen=True, slots=True)
class Leaf:
    """One thing that can happen: ``step`` completed, router ``label`` taken, ``event`` emitted.

    ``kind == "ref"`` is an unresolved user reference; compile() turns it into one of the
    others.
    """

    kind: LeafKind
    name: str

    def describe(self) -> str:
        return self.name if self.kind in ("step", "ref") else f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Fires each time any child fires (``or_``)."""

    children: tuple[Condition, ...]

    def describe(self) -> str:
        return "or_(" + ", ".join(c.describe() for c in self.children) + ")"


@dataclass(frozen=True, slots=True)
class AllOf:
    """Fires once every child has fired since this condition last fired (``and_``)."""

    children: tuple[Condition, ...]

    def describe(self) -> str:
        return "and_(" + ", ".join(c.describe() for c in self.children) + ")"


Condition = Leaf | AnyOf | AllOf


def ref_name(ref: object) -> str:
    """The step or label name a user reference stands for."""
    if isinstance(ref, str):
        if not ref:
            raise DefinitionError("an empty string is not a step or label name")
        return ref
    name = getattr(ref, "__name__", None)
    if callable(ref) and isinstance(name, str):
        return name
    raise DefinitionError(
        f"cannot listen to {ref!r}: pass a step (its function), a step name or a router "
        "label, or or_()/and_() of those"
    )


def to_condition(ref: object) -> Condition:
    """Turn what a user passed to ``@listen``/``or_``/``and_`` into a condition."""
    if isinstance(ref, Leaf | AnyOf | AllOf):
        return ref
    return Leaf("ref", ref_name(ref))


def or_(*refs: object) -> AnyOf:
    """A condition that fires when any of ``refs`` completes (or is taken, for labels)."""
    if not refs:
        raise DefinitionError("or_() needs at least one step or label")
    return AnyOf(tuple(to_condition(r) for r in refs))


def and_(*refs: object) -> AllOf:
    """A condition that fires when all of ``refs`` have completed since it last fired."""
    if not refs:
        raise DefinitionError("and_() needs at least one step or label")
    return AllOf(tuple(to_condition(r) for r in refs))


def on_event(name: str) -> Leaf:
    """A condition that fires when a step calls ``emit(name, payload)``."""
    return Leaf("event", ref_name(name))


def leaves(cond: Condition) -> list[Leaf]:
    """Every leaf of a condition, left to right."""
    if isinstance(cond, Leaf):
        return [cond]
    out: list[Leaf] = []
    for child in cond.children:
        out.extend(leaves(child))
    return out
