"""L4: stores that keep runs and their event logs."""

from plait.stores._memory import MemoryStore

__all__ = ["MemoryStore"]
