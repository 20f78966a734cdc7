"""Trigger conditions compiled for fast, incremental evaluation.

Each listener's condition tree becomes flat node arrays. When something happens (a leaf
key such as ``("step", "draft")``), only the listeners watching that key are visited, and
only the path from the leaf to the root is walked. ``and_`` progress lives in the run
view, so it is rebuilt exactly by replaying the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from plait.define import AnyOf, Condition, Leaf
from plait.plan import Plan

LeafKey = tuple[str, str]

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
    trees (``trees[listener]``).
    """

    direct: dict[LeafKey, list[str]]
    joins: dict[LeafKey, list[tuple[str, int]]]
    join_size: dict[str, int]
    nested: dict[LeafKey, list[tuple[str, int]]]
    trees: dict[str, _Tree]
    starts: list[str]

    @classmethod
    def build(cls, plan: Plan) -> TriggerIndex:
        index = cls({}, {}, {}, {}, {}, [s.name for s in plan.steps if s.start])
        direct, joins = index.direct, index.joins
        for step in plan.steps:
            cond, name = step.trigger, step.name
            if cond is None:
                continue
            if isinstance(cond, Leaf):
                direct.setdefault((cond.kind, cond.name), []).append(name)
                continue
            children = cond.children
            if all(type(c) is Leaf for c in children):
                keys = [(c.kind, c.name) for c in children]  # type: ignore[union-attr]
                if isinstance(cond, AnyOf):
                    for key in dict.fromkeys(keys):
                        direct.setdefault(key, []).append(name)
                    continue
                unique = list(dict.fromkeys(keys))
                index.join_size[name] = len(unique)
                for slot, key in enumerate(unique):
                    joins.setdefault(key, []).append((name, slot))
                continue
            tree = _Tree([], [], [], [])
            _flatten(cond, -1, 0, tree, name, index.nested)
            index.trees[name] = tree
        return index

    def listeners(self, key: LeafKey) -> bool:
        return key in self.direct or key in self.joins or key in self.nested


def _flatten(
    cond: Condition,
    parent: int,
    slot: int,
    tree: _Tree,
    owner: str,
    nested: dict[LeafKey, list[tuple[str, int]]],
) -> None:
    node = len(tree.kinds)
    tree.parents.append(parent)
    tree.slots.append(slot)
    if isinstance(cond, Leaf):
        tree.kinds.append(LEAF)
        tree.sizes.append(0)
        nested.setdefault((cond.kind, cond.name), []).append((owner, node))
        return
    tree.kinds.append(ANY if isinstance(cond, AnyOf) else ALL)
    tree.sizes.append(len(cond.children))
    for i, child in enumerate(cond.children):
        _flatten(child, node, i, tree, owner, nested)


def fire(tree: _Tree, node: int, joins: dict[int, set[int]]) -> bool:
    """A leaf of ``tree`` happened; update ``joins`` (and_ progress by node) and say whether
    the root fires. Each and_ forgets its progress when it fires, and only then: in
    ``or_(a, and_(b, c))`` a firing through ``a`` keeps the join's progress."""
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
