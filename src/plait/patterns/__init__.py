"""L5: the guide's patterns as helpers on the runtime (filled in below)."""

from plait.patterns._step import context, emit, map

__all__ = ["context", "emit", "map"]
