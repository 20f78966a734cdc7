"""L5: models and tools. ``Model("provider:model")`` for chat, streaming, structured output
and tool calls on OpenAI-compatible servers, Anthropic, LiteLLM and an offline llama.cpp
model; ``@tool`` for typed tools; every call recorded in the run it happens in."""

from plait.llm._builtins import calculate, calculator, http_get, read_file
from plait.llm._limits import Limits
from plait.llm._messages import Message, Request, Response, ToolCall, ToolSpec, Usage
from plait.llm._model import Model, json_text, messages_of
from plait.llm._prices import cost, set_prices
from plait.llm._provider import Provider, ProviderFailure
from plait.llm._registry import DEFAULT_MODEL, configure, default_spec, resolve
from plait.llm._scripted import ScriptedProvider
from plait.llm._tools import Tool, tool, tool_fingerprint
from plait.llm._usage import RunUsage, StepUsage, usage

__all__ = [
    "DEFAULT_MODEL",
    "Limits",
    "Message",
    "Model",
    "Provider",
    "ProviderFailure",
    "Request",
    "Response",
    "RunUsage",
    "ScriptedProvider",
    "StepUsage",
    "Tool",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "calculate",
    "calculator",
    "configure",
    "cost",
    "default_spec",
    "http_get",
    "json_text",
    "messages_of",
    "read_file",
    "resolve",
    "set_prices",
    "tool",
    "tool_fingerprint",
    "usage",
]
