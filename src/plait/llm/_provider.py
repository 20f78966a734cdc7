"""The provider port: what ``Model`` needs from OpenAI, Anthropic, LiteLLM, llama.cpp...

A provider turns a :class:`Request` into a :class:`Response` for one model name. It
raises :class:`ProviderFailure` for a failed call, saying whether trying again can help
(rate limits, 5xx, timeouts, connection errors) and how long the server asked to wait;
``Model`` does the retrying, limiting, recording and structured-output repair, so a
provider is only the translation to its SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from plait.llm._messages import Request, Response


class ProviderFailure(Exception):
    """A call failed. ``retryable``: another try may succeed; ``retry_after``: seconds the
    server asked to wait (Retry-After), if it said."""

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@runtime_checkable
class Provider(Protocol):
    name: str
    """The prefix of its model strings: ``openai``, ``anthropic``, ``local``..."""

    native_tools: bool
    """Whether the model takes ``tools`` itself; otherwise agents use a JSON protocol."""

    async def complete(self, model: str, request: Request) -> Response: ...

    def stream(self, model: str, request: Request) -> AsyncIterator[str | Response]:
        """Pieces of the answer's text as they come, then the whole :class:`Response`."""
        ...

    async def close(self) -> None: ...
