"""What goes to a model and what comes back: messages, tool calls, usage, responses.

All are pydantic models, so they validate, print well and are stored in a run's log as
they are (``ModelCalled.response`` is a :class:`Response`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant", "tool"]


class ToolCall(BaseModel):
    """The model asks for ``name(**arguments)``; ``id`` pairs it with its result."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    """One chat message. ``tool_calls`` on assistant messages; ``tool_call_id`` (and the
    tool's ``name``) on tool results."""

    role: Role
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str = ""
    name: str = ""

    @classmethod
    def system(cls, content: str) -> Message:
        return cls(role="system", content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: list[ToolCall] | None = None) -> Message:
        return cls(role="assistant", content=content, tool_calls=tool_calls or [])

    @classmethod
    def tool(cls, call: ToolCall, content: str) -> Message:
        return cls(role="tool", content=content, tool_call_id=call.id, name=call.name)


class Usage(BaseModel):
    """Tokens a call used."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class Response(BaseModel):
    """A model's answer: text and/or tool calls, with usage and where it came from."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    provider: str = ""
    model: str = ""
    finish_reason: str = ""
    replayed: bool = False
    """True when a resumed step got this from the run's log instead of calling the model."""


class ToolSpec(BaseModel):
    """A tool as the model sees it: name, description, JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


ToolChoice = Literal["auto", "required", "none"] | str
"""``auto``, ``required`` (some tool), ``none``, or a tool's name (that tool)."""


class Request(BaseModel):
    """One call to a provider. ``json_schema``: the answer must be JSON fitting it."""

    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: str | None = None
    json_schema: dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stop: list[str] = Field(default_factory=list)
