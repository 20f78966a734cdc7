"""L4: executors that run step code."""

from plait.executors._local import LocalExecutor

__all__ = ["LocalExecutor"]
