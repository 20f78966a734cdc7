"""Model names to providers: ``openai:…``, ``anthropic:…``, ``litellm:…``, ``local:…``.

One provider object (and one set of :class:`Limits`) per provider and endpoint in a
process, so every ``Model`` of it shares connections and limits. Keys and base URLs come
from the providers' usual environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from plait.core import ModelError
from plait.llm._limits import Limits
from plait.llm._provider import Provider

DEFAULT_MODEL = "local:smollm2"
"""The model when neither ``PLAIT_MODEL`` nor a name is given: offline, in-process."""

PROVIDERS = ("openai", "anthropic", "litellm", "local")

_providers: dict[str, Provider] = {}
_limits: dict[int, Limits] = {}


def default_spec() -> str:
    return os.environ.get("PLAIT_MODEL") or DEFAULT_MODEL


def _openai() -> Provider:
    if not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
        raise ModelError(
            "openai models need OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible "
            "server (vLLM, Ollama, llama.cpp server, LM Studio); set one, or use "
            "PLAIT_MODEL=local:smollm2 to run offline",
            provider="openai",
        )
    from plait.llm._openai import OpenAIProvider

    return OpenAIProvider()


def _anthropic() -> Provider:
    if not os.environ.get("ANTHROPIC_API_KEY"):
        raise ModelError(
            "anthropic models need ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for another "
            "endpoint); set it, or use PLAIT_MODEL=local:smollm2 to run offline",
            provider="anthropic",
        )
    from plait.llm._anthropic import AnthropicProvider

    return AnthropicProvider()


def _litellm() -> Provider:
    from plait.llm._litellm import LiteLLMProvider

    return LiteLLMProvider()


def _local() -> Provider:
    from plait.llm._local import LocalProvider

    return LocalProvider()


_FACTORIES: dict[str, Callable[[], Provider]] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "litellm": _litellm,
    "local": _local,
}


def _endpoint(prefix: str) -> str:
    """What makes two providers of one prefix different: their base URL."""
    if prefix == "openai":
        return os.environ.get("OPENAI_BASE_URL", "")
    if prefix == "anthropic":
        return os.environ.get("ANTHROPIC_BASE_URL", "")
    return ""


def resolve(spec: str) -> tuple[Provider, str]:
    """The provider and model name of ``"provider:model"``."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ModelError(
            f"model {spec!r}: name it provider:model, e.g. openai:gpt-4o-mini, "
            f"anthropic:claude-3-5-haiku-latest, local:smollm2 (providers: {', '.join(PROVIDERS)})"
        )
    prefix, _, name = spec.partition(":")
    factory = _FACTORIES.get(prefix)
    if factory is None:
        raise ModelError(
            f"model {spec!r}: unknown provider {prefix!r}; use one of {', '.join(PROVIDERS)} "
            "(or pass provider=... for your own)",
            provider=prefix,
            model=name,
        )
    if not name:
        raise ModelError(f"model {spec!r}: the model name after {prefix}: is empty")
    key = f"{prefix}|{_endpoint(prefix)}"
    provider = _providers.get(key)
    if provider is None:
        provider = _providers[key] = factory()
    return provider, name


def limits_for(provider: Provider) -> Limits:
    """The limits shared by every model of ``provider`` (none until :func:`configure`)."""
    found = _limits.get(id(provider))
    if found is None:
        found = _limits[id(provider)] = Limits()
    return found


def configure(
    provider: str,
    *,
    concurrency: int | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
) -> Limits:
    """Limit calls to ``provider`` (``"openai"``...): at most ``concurrency`` at once,
    ``rpm`` requests and ``tpm`` tokens per minute, for every model of it."""
    the_provider, _ = resolve(f"{provider}:_")
    Limits(concurrency=concurrency, rpm=rpm, tpm=tpm)  # checks the values
    limits = limits_for(the_provider)  # changed in place: models made before see it too
    limits.concurrency, limits.rpm, limits.tpm = concurrency, rpm, tpm
    limits._slots = None
    return limits
