"""Trigger conditions compiled for fast, incremental evaluation.

Each listener's condition tree becomes flat node arrays. When something happens (a leaf
key such as ``("step", "draft")``), only the listeners watching that key are visited, and
only the path from the leaf to the root is walked. ``and_`` progress lives in the run
view, so it is rebuilt exactly by replaying the log.

Flows follow CrewAI's trigger rules: step names and router labels share one namespace (a
router returning ``"draft"`` fires the listeners of step ``draft``); a conditional start
hears only router labels; an ``or_`` of several parts fires once, for the first part to
happen, until a router label or a step running again re-arms it (see ``RunView``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from plait.define import AnyOf, Condition, Leaf
from plait.plan import Plan, PlanStep

LeafKey = tuple[str, str]
Keys = Callable[[Leaf], tuple[LeafKey, ...]]

LEAF, ANY, ALL = 0, 1, 2


@dataclass(slots=True)
class _Tree:
    kinds: list[int]
    parents: list[int]
    slots: list[int]
    sizes: list[int]


@dataclass(slots=True)
class TriggerIndex:
    """Who listens to what.

    ``direct[key]``: listeners that fire whenever that leaf happens (a lone leaf, or an
    or_ of leaves). ``joins[key]``: ``(listener, slot)`` for and_ of leaves, with
    ``join_size[listener]`` slots. ``nested[key]``: ``(listener, leaf node)`` in deeper
    trees (``trees[listener]``). ``starts``: what runs when a run begins — the start
    steps without a condition, or every start step when none is without one.
    ``once``: listeners whose condition is an ``or_`` of several parts (not routers, not
    start steps): they fire for the first part only, until re-armed. ``quiet``:
    conditional start steps, which run without the triggering value. ``routers``: every
    router (their labels carry the "wave" that may re-arm an ``or_``). ``plain[key]``:
    ``direct[key]`` when that is all that hears the key and none of it is ``once`` or
    ``quiet`` (most keys): each fires with the value, no bookkeeping.
    """

    direct: dict[LeafKey, list[str]]
    joins: dict[LeafKey, list[tuple[str, int]]]
    join_size: dict[str, int]
    nested: dict[LeafKey, list[tuple[str, int]]]
    trees: dict[str, _Tree]
    starts: list[str]
    once: set[str] = field(default_factory=set)
    quiet: set[str] = field(default_factory=set)
    routers: set[str] = field(default_factory=set)
    plain: dict[LeafKey, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, plan: Plan) -> TriggerIndex:
        plain = [s.name for s in plan.steps if s.start and s.trigger is None]
        index = cls({}, {}, {}, {}, {}, plain or [s.name for s in plan.steps if s.start])
        direct, joins = index.direct, index.joins
        flow = plan.kind == "flow"
        for step in plan.steps:
            if step.kind == "router":
                index.routers.add(step.name)
            cond, name = step.trigger, step.name
            if cond is None:
                continue
            keys: Keys = _keys_for(step) if flow else _own_key
            if step.start:
                index.quiet.add(name)
            elif isinstance(cond, AnyOf) and len(cond.children) > 1 and step.kind != "router":
                index.once.add(name)
            if isinstance(cond, Leaf):
                for key in keys(cond):
                    direct.setdefault(key, []).append(name)
                continue
            children = cond.children
            if all(type(c) is Leaf for c in children):
                if isinstance(cond, AnyOf):
                    heard = (key for c in children for key in keys(c))  # type: ignore[arg-type]
                    for key in dict.fromkeys(heard):
                        direct.setdefault(key, []).append(name)
                    continue
                unique = list(dict.fromkeys(children))
                index.join_size[name] = len(unique)
                for slot, leaf in enumerate(unique):
                    for key in keys(leaf):  # type: ignore[arg-type]
                        joins.setdefault(key, []).append((name, slot))
                continue
            tree = _Tree([], [], [], [])
            _flatten(cond, -1, 0, tree, name, index.nested, keys)
            index.trees[name] = tree
        special = index.once | index.quiet
        index.plain = {
            key: names
            for key, names in direct.items()
            if key not in joins and key not in index.nested and special.isdisjoint(names)
        }
        return index

    def listeners(self, key: LeafKey) -> bool:
        return key in self.direct or key in self.joins or key in self.nested


def _own_key(leaf: Leaf) -> tuple[LeafKey, ...]:
    return ((leaf.kind, leaf.name),)


def _keys_for(step: PlanStep) -> Keys:
    """The keys a leaf of ``step``'s condition is heard on (one namespace for steps and
    labels; a conditional start hears a step's name only as a router label)."""

    def keys(leaf: Leaf) -> tuple[LeafKey, ...]:
        if leaf.kind != "step":
            return ((leaf.kind, leaf.name),)
        if step.start:
            return (("label", leaf.name),)
        return (("step", leaf.name), ("label", leaf.name))

    return keys


def _flatten(
    cond: Condition,
    parent: int,
    slot: int,
    tree: _Tree,
    owner: str,
    nested: dict[LeafKey, list[tuple[str, int]]],
    keys: Keys,
) -> None:
    node = len(tree.kinds)
    tree.parents.append(parent)
    tree.slots.append(slot)
    if isinstance(cond, Leaf):
        tree.kinds.append(LEAF)
        tree.sizes.append(0)
        for key in keys(cond):
            nested.setdefault(key, []).append((owner, node))
        return
    tree.kinds.append(ANY if isinstance(cond, AnyOf) else ALL)
    tree.sizes.append(len(cond.children))
    for i, child in enumerate(cond.children):
        _flatten(child, node, i, tree, owner, nested, keys)


def fire(tree: _Tree, node: int, joins: dict[int, set[int]]) -> bool:
    """A leaf of ``tree`` happened; update ``joins`` (and_ progress by node) and say whether
    the root fires. The caller forgets all of a listener's progress once it fires: like
    CrewAI, in ``or_(and_(a, b), and_(c, d))`` firing through ``a, b`` also drops ``c``."""
    kinds, parents, slots, sizes = tree.kinds, tree.parents, tree.slots, tree.sizes
    while True:
        parent = parents[node]
        if parent < 0:
            return True
        if kinds[parent] == ANY:
            node = parent
            continue
        done = joins.get(parent)
        if done is None:
            done = joins[parent] = set()
        done.add(slots[node])
        if len(done) < sizes[parent]:
            return False
        del joins[parent]
        node = parent


def route_label(output: Any) -> str | None:
    """The label a router's ``output`` routes to, as CrewAI makes it: ``None`` routes
    nowhere (the branch ends), an ``Enum`` member routes to its value, anything else to
    ``str()`` of it (``0`` → ``"0"``, ``True`` → ``"True"``)."""
    if output is None:
        return None
    if isinstance(output, Enum):
        output = output.value
    return output if isinstance(output, str) else str(output)
