"""``ScriptedProvider``: a model that answers from a script, for fast, exact tests.

Each call takes the next entry of the script: a string (the answer's text), a
:class:`Response`, a :class:`ToolCall` or list of them (the model calls those tools), an
exception (the call fails with it), or a function of the :class:`Request` returning any of
those. Every request is kept in ``requests`` so a test can check what was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from plait.core import ModelError
from plait.llm._messages import Request, Response, ToolCall, Usage

Entry = str | Response | ToolCall | list[ToolCall] | BaseException | Callable[[Request], Any]


class ScriptedProvider:
    name = "scripted"

    def __init__(
        self,
        script: Iterable[Entry] = (),
        *,
        native_tools: bool = True,
        delay: float = 0.0,
        repeat_last: bool = False,
    ) -> None:
        self.script: list[Entry] = list(script)
        self.native_tools = native_tools
        self.delay = delay
        self.repeat_last = repeat_last
        self.requests: list[Request] = []
        self._next = 0

    def _take(self, model: str, request: Request) -> Response:
        self.requests.append(request)
        if self._next >= len(self.script):
            if not (self.repeat_last and self.script):
                raise ModelError(
                    f"scripted model {model!r} has no answer left: its script had "
                    f"{len(self.script)} entries and this is call {self._next + 1}",
                    provider=self.name,
                    model=model,
                )
            entry = self.script[-1]
        else:
            entry = self.script[self._next]
        self._next += 1
        if callable(entry) and not isinstance(entry, BaseException | type):
            entry = entry(request)
        if isinstance(entry, BaseException):
            raise entry
        if isinstance(entry, Response):
            response = entry.model_copy()
        elif isinstance(entry, ToolCall):
            response = Response(tool_calls=[entry], finish_reason="tool_calls")
        elif isinstance(entry, list):
            response = Response(tool_calls=list(entry), finish_reason="tool_calls")
        else:
            response = Response(text=str(entry), finish_reason="stop")
        if response.usage == Usage():
            words = sum(len(m.content.split()) for m in request.messages)
            response.usage = Usage(input_tokens=words, output_tokens=len(response.text.split()))
        response.provider, response.model = self.name, model
        return response

    async def complete(self, model: str, request: Request) -> Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._take(model, request)

    async def stream(self, model: str, request: Request) -> AsyncIterator[str | Response]:
        response = await self.complete(model, request)
        words = response.text.split(" ")
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word
        yield response

    async def close(self) -> None:
        return None
