"""``openai:<model>``: any OpenAI-compatible chat-completions endpoint, through the official
``openai`` SDK (OpenAI itself, vLLM, Ollama, llama.cpp's server, LM Studio...).

The key and the base URL come from the arguments or from ``OPENAI_API_KEY`` and
``OPENAI_BASE_URL``; a server at a base URL without a key gets a placeholder key, as
local servers need none. The SDK's own retries are off: ``Model`` retries, honouring
Retry-After, which this provider reads into :class:`ProviderFailure`.

Structured output asks for ``response_format={"type": "json_schema", ...}``. Servers
that reject that (llama-cpp-python's answers 500 naming ``response_format``) are asked
again with ``{"type": "json_object", "schema": ...}``, the older form most of them take,
and the provider remembers it for the model. ``stream_options`` (usage at the end of a
stream) is dropped the same way where a server refuses it.

One SDK client per event loop (a client's connections belong to the loop that opened
them, and each blocking ``kickoff()`` runs its own loop). The transport is the SDK's
aiohttp client when ``openai[aiohttp]`` is installed (plait's ``openai`` extra installs
it): about 6× less client time per request than httpx under many concurrent calls (W9
and W9h in benchmarks/RESULTS.md). ``transport="httpx"`` or
``PLAIT_OPENAI_TRANSPORT=httpx`` chooses httpx. An aiohttp client is closed when its
event loop shuts down (the end of ``asyncio.run``), or by ``await provider.close()``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING, Any

from plait.core import ModelError, require_extra
from plait.llm._loop_clients import LoopClients
from plait.llm._openai_compat import OpenAICompatibleProvider
from plait.llm._provider import ProviderFailure
from plait.llm._sdk_errors import sdk_failure

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from openai import AsyncOpenAI

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _default_transport() -> str:
    """aiohttp when ``openai[aiohttp]`` is installed (much less client time per call under
    load), else the SDK's default httpx."""
    return "aiohttp" if importlib.util.find_spec("httpx_aiohttp") is not None else "httpx"


PLACEHOLDER_KEY = "not-needed"


class OpenAIProvider(OpenAICompatibleProvider):
    """Chat completions through ``openai.AsyncOpenAI``."""

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        *,
        transport: str | None = None,
    ) -> None:
        super().__init__(require_extra("openai", "openai", feature="the 'openai:' model provider"))
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if key is None and self.base_url is not None:
            key = PLACEHOLDER_KEY
        self._api_key = key
        self._timeout = timeout
        self.transport = (
            transport or os.environ.get("PLAIT_OPENAI_TRANSPORT") or _default_transport()
        )
        if self.transport not in ("httpx", "aiohttp"):
            raise ModelError(
                f"openai transport {self.transport!r} (PLAIT_OPENAI_TRANSPORT): use 'aiohttp' "
                "(the default when openai[aiohttp] is installed) or 'httpx'",
                provider="openai",
            )
        self._clients: LoopClients[AsyncOpenAI] = LoopClients()

    @property
    def where(self) -> str:
        return self.base_url or DEFAULT_BASE_URL

    async def close(self) -> None:
        """Close this event loop's client."""
        await self._clients.close()

    # ------------------------------------------------------------------ internals

    async def _send(self, model: str, arguments: dict[str, Any]) -> Any:
        return await self._get_client(model).chat.completions.create(**arguments)

    def _stream_scope(self, chunks: Any) -> AbstractAsyncContextManager[Any]:
        scope: AbstractAsyncContextManager[Any] = chunks  # an AsyncStream closes when left
        return scope

    def _get_client(self, model: str) -> AsyncOpenAI:
        return self._clients.get(
            lambda: self._new_client(model), close_at_shutdown=self.transport == "aiohttp"
        )

    def _new_client(self, model: str) -> AsyncOpenAI:
        if self._api_key is None:
            raise ProviderFailure(
                f"no API key for openai model {model!r}: set OPENAI_API_KEY, or set "
                "OPENAI_BASE_URL to an OpenAI-compatible server that needs none"
            )
        http_client = None
        if self.transport == "aiohttp":
            try:
                http_client = self._openai.DefaultAioHttpClient()
            except (AttributeError, RuntimeError) as exc:
                raise ProviderFailure(
                    f"the aiohttp transport needs pip install 'openai[aiohttp]' ({exc})"
                ) from None
        client: AsyncOpenAI = self._openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self._timeout,
            max_retries=0,
            http_client=http_client,
        )
        return client

    def _failure(self, model: str, exc: Exception) -> Exception:
        failure = sdk_failure(
            self._openai,
            exc,
            provider=self.name,
            model=model,
            base_url=self.where,
            key_env="OPENAI_API_KEY",
        )
        return exc if failure is None else failure
