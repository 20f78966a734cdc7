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

LiteLLM speaks the OpenAI format and its errors subclass ``openai``'s, so ``complete``,
``stream`` and most of the error mapping are the shared OpenAI-compatible base's
(:mod:`plait.llm._openai_compat`). Its retries are off: ``Model`` retries.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from plait.core import require_extra
from plait.llm._openai_compat import OpenAICompatibleProvider
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


class LiteLLMProvider(OpenAICompatibleProvider):
    """Chat completions through ``litellm.acompletion``. Nothing to close: LiteLLM keeps
    its clients in a process-wide cache."""

    name = "litellm"

    def __init__(
        self, api_base: str | None = None, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        self._litellm = import_litellm()
        super().__init__(require_extra("openai", "litellm"))  # a dependency of litellm
        self._network_errors: tuple[type[BaseException], ...] = (
            ConnectionError,  # refused, reset...
            socket.gaierror,  # unknown host
            require_extra("httpx", "litellm").TransportError,
        )
        self.api_base = api_base
        self._api_key = api_key
        self._timeout = timeout

    # ------------------------------------------------------------------ internals

    async def _send(self, model: str, arguments: dict[str, Any]) -> Any:
        arguments = arguments | {"timeout": self._timeout, "num_retries": 0, "max_retries": 0}
        if self.api_base is not None:
            arguments["api_base"] = self.api_base
        if self._api_key is not None:
            arguments["api_key"] = self._api_key
        return await self._litellm.acompletion(**arguments)

    def _failure(self, model: str, exc: Exception) -> Exception:
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
