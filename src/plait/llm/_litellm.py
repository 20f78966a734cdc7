"""``litellm:<model>``: every provider LiteLLM knows, through ``litellm.acompletion``
(``litellm:openai/gpt-4o-mini``, ``litellm:anthropic/claude-3-5-haiku-latest``,
``litellm:ollama/llama3``...). Keys and base URLs: LiteLLM's usual environment variables
for each provider, or ``api_base`` / ``api_key`` here.

Offline: importing ``litellm`` fetches its model price map from GitHub unless
``LITELLM_LOCAL_MODEL_COST_MAP=True`` (it then uses the copy it ships), and it loads a
``.env`` file from the working directory into ``os.environ`` unless ``LITELLM_MODE`` is
``PRODUCTION``. The provider sets both (unless already set) before the first import, so
plait never reaches the internet behind the user's back nor reads their ``.env``.
LiteLLM's tiktoken files ship inside it.

LiteLLM speaks the OpenAI format and its errors subclass ``openai``'s, so the translation
and the error mapping are the OpenAI provider's. Its retries are off: ``Model`` retries.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from typing import Any

from plait.core import require_extra
from plait.llm._messages import Request, Response
from plait.llm._openai_format import (
    ChunkAccumulator,
    chat_arguments,
    refused_feature,
    to_response,
)
from plait.llm._provider import ProviderFailure
from plait.llm._sdk_errors import connection_failure, sdk_failure

OFFLINE_ENVIRONMENT = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MODE": "PRODUCTION"}
"""Set (unless already set) before ``litellm`` is imported; see the module's docstring."""


def import_litellm() -> Any:
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    litellm: Any = require_extra("litellm", "litellm", feature="the 'litellm:' model provider")
    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" on stdout per error
    return litellm


class LiteLLMProvider:
    """Chat completions through ``litellm.acompletion``."""

    name = "litellm"
    native_tools = True

    def __init__(
        self, api_base: str | None = None, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        self._litellm = import_litellm()
        self._openai: Any = require_extra("openai", "litellm")  # dependencies of litellm
        self._network_errors: tuple[type[BaseException], ...] = (
            ConnectionError,  # refused, reset...
            socket.gaierror,  # unknown host
            require_extra("httpx", "litellm").TransportError,
        )
        self.api_base = api_base
        self._api_key = api_key
        self._timeout = timeout
        self._unsupported: set[tuple[str, str]] = set()

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

    async def close(self) -> None:
        """Nothing to close: LiteLLM keeps its clients in a process-wide cache."""

    # ------------------------------------------------------------------ internals

    async def _create(self, model: str, request: Request, *, stream: bool) -> Any:
        while True:
            kwargs = chat_arguments(model, request, stream=stream, refused=self._unsupported)
            kwargs.update(timeout=self._timeout, num_retries=0, max_retries=0)
            if self.api_base is not None:
                kwargs["api_base"] = self.api_base
            if self._api_key is not None:
                kwargs["api_key"] = self._api_key
            try:
                return await self._litellm.acompletion(**kwargs)
            except self._openai.APIStatusError as exc:
                feature = refused_feature(kwargs, exc)
                if feature is None:
                    raise
                self._unsupported.add((model, feature))  # and ask again without it

    def _failure(self, model: str, exc: Exception) -> Exception:
        """``exc`` as a :class:`ProviderFailure`, or ``exc`` itself if it is not LiteLLM's."""
        where = self.api_base or "the provider's default endpoint"
        openai = self._openai
        if not isinstance(exc, openai.APITimeoutError):
            if _caused_by(exc, self._network_errors):
                # LiteLLM reports an unreachable endpoint as HTTP 500 "Connection error."
                return connection_failure(self.name, model, where, exc, timed_out=False)
            if isinstance(exc, openai.APIConnectionError):
                # ... and anything that went wrong inside it as APIConnectionError.
                return ProviderFailure(f"litellm model {model!r} failed: {exc}")
        failure: ProviderFailure | None = sdk_failure(
            openai, exc, provider=self.name, model=model, base_url=where, key_env=_key_env(model)
        )
        return exc if failure is None else failure


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether an exception of one of ``kinds`` is ``exc`` or among its causes."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, kinds):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _key_env(model: str) -> str:
    """The environment variable LiteLLM most likely reads the key from."""
    prefix, slash, _ = model.partition("/")
    if not slash:
        return "the provider's API key variable (e.g. OPENAI_API_KEY)"
    return f"{prefix.upper().replace('-', '_')}_API_KEY"
