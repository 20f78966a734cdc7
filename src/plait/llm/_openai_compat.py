"""The base of the providers that speak OpenAI's chat-completions format: ``openai:``
(the official SDK) and ``litellm:`` (whose errors subclass the ``openai`` SDK's).

It holds what they share: ``complete`` and ``stream`` (the translation is
:mod:`plait.llm._openai_format`'s), asking again without a feature the server refused
(``json_schema``, ``stream_options``; remembered per model), and turning the SDK's
exceptions into :class:`ProviderFailure` (or letting through those that are not the
SDK's). A subclass says how to send the arguments (:meth:`_send`) and how its errors map
(:meth:`_failure`).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

from plait.llm._messages import Request, Response
from plait.llm._openai_format import (
    ChunkAccumulator,
    chat_arguments,
    refused_feature,
    to_response,
)


class OpenAICompatibleProvider(ABC):
    """``complete`` and ``stream`` over :meth:`_send`; ``openai`` is the ``openai`` SDK
    module, whose ``APIStatusError`` says a server refused a feature."""

    name: str
    native_tools = True

    def __init__(self, openai: Any) -> None:
        self._openai = openai
        self._unsupported: set[tuple[str, str]] = set()
        """(model, feature) pairs the server refused: ``json_schema``, ``stream_options``."""

    async def complete(self, model: str, request: Request) -> Response:
        try:
            completion = await self._create(model, request, stream=False)
        except Exception as exc:
            failure = self._failure(model, exc)
            if failure is exc:
                raise
            raise failure from exc
        return to_response(completion, provider=self.name, model=model)

    async def stream(self, model: str, request: Request) -> AsyncIterator[str | Response]:
        collected = ChunkAccumulator(provider=self.name, model=model)
        try:
            chunks = await self._create(model, request, stream=True)
            async with self._stream_scope(chunks):
                async for chunk in chunks:
                    piece = collected.add(chunk)
                    if piece:
                        yield piece
        except Exception as exc:
            failure = self._failure(model, exc)
            if failure is exc:
                raise
            raise failure from exc
        yield collected.response()

    async def close(self) -> None:  # noqa: B027 - a hook; only some subclasses keep clients
        """Nothing to close unless a subclass keeps clients."""

    # ------------------------------------------------------------------ for subclasses

    @abstractmethod
    async def _send(self, model: str, arguments: dict[str, Any]) -> Any:
        """Send chat-completions ``arguments``: a completion, or an async iterator of
        chunks when ``arguments["stream"]``."""

    @abstractmethod
    def _failure(self, model: str, exc: Exception) -> Exception:
        """``exc`` as a :class:`ProviderFailure`, or ``exc`` itself if it is not the SDK's."""

    def _stream_scope(self, chunks: Any) -> contextlib.AbstractAsyncContextManager[Any]:
        """What to enter around reading a stream's chunks (the OpenAI SDK's stream closes
        its response when left); nothing by default."""
        return contextlib.nullcontext(chunks)

    # ------------------------------------------------------------------ internals

    async def _create(self, model: str, request: Request, *, stream: bool) -> Any:
        while True:
            arguments = chat_arguments(model, request, stream=stream, refused=self._unsupported)
            try:
                return await self._send(model, arguments)
            except self._openai.APIStatusError as exc:
                feature = refused_feature(arguments, exc)
                if feature is None:
                    raise
                self._unsupported.add((model, feature))  # and ask again without it
