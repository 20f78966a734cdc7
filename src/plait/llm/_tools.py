"""Tools: typed Python functions a model may call.

``@tool`` reads the function's signature and docstring: the parameters' types and
defaults give the JSON schema the model sees (descriptions come from an ``Args:`` section),
and the same schema validates the model's arguments before the function runs. Inside a
step, each call is recorded as ``ToolCalled``, and a resumed step gets a recorded result
back instead of running the tool again.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from plait.core import DefinitionError, ToolError
from plait.define import current_step, is_async_callable
from plait.llm._messages import ToolSpec
from plait.runtime import StepContext, ToolCalled

_ARGS = re.compile(r"^\s*(?:Args|Arguments|Parameters):\s*$", re.M)
_ARG_LINE = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?\s*:\s*(.+)$")


def _doc_parts(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The docstring's description and its ``Args:`` lines by parameter."""
    doc = inspect.getdoc(fn) or ""
    found = _ARGS.search(doc)
    if not found:
        return doc.strip(), {}
    described: dict[str, str] = {}
    for line in doc[found.end() :].splitlines():
        match = _ARG_LINE.match(line)
        if match:
            described[match[1]] = match[2].strip()
        elif line.strip() and not line.startswith((" ", "\t")):
            break
    return doc[: found.start()].strip(), described


class Tool:
    """A function a model may call: ``name``, ``description``, ``parameters`` (a JSON
    schema), validated arguments, and a ``timeout`` per call (seconds)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 30.0,
    ) -> None:
        if not callable(fn):
            raise DefinitionError(f"@tool needs a function, got {fn!r}")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", ""))
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", self.name):
            raise DefinitionError(
                f"tool name {self.name!r}: use letters, digits, _ and - (at most 64)"
            )
        summary, described = _doc_parts(fn)
        self.description = description or summary or self.name.replace("_", " ")
        self.timeout = timeout
        self.is_async = is_async_callable(fn)
        self.arguments = self._arguments_model(described)
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        self.parameters: dict[str, Any] = schema

    def _arguments_model(self, described: dict[str, str]) -> type[BaseModel]:
        fields: dict[str, Any] = {}
        try:
            hints = inspect.get_annotations(self.fn, eval_str=True)
        except Exception as exc:
            raise DefinitionError(
                f"tool {self.name!r}: its type annotations cannot be read ({exc})"
            ) from None
        for param in inspect.signature(self.fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise DefinitionError(
                    f"tool {self.name!r}: *{param.name} cannot be described to a model; "
                    "give the tool named parameters"
                )
            annotation = hints.get(param.name, Any)
            about = described.get(param.name)
            if param.default is param.empty:
                fields[param.name] = (annotation, Field(description=about))
            else:
                fields[param.name] = (annotation, Field(default=param.default, description=about))
        reserved = [n for n in fields if n.startswith("_") or n.startswith("model_")]
        if reserved:
            raise DefinitionError(
                f"tool {self.name!r}: parameter names may not start with _ or model_ "
                f"({', '.join(reserved)}); rename them"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # names that shadow BaseModel attributes
                model: type[BaseModel] = create_model(
                    f"{self.name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
                )
        except Exception as exc:
            raise DefinitionError(
                f"tool {self.name!r}: its parameters cannot be described as JSON ({exc})"
            ) from None
        return model

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments, checked and converted; :class:`ToolError` saying what is wrong."""
        if not isinstance(arguments, Mapping):
            raise ToolError(
                f"tool {self.name!r} takes an object of arguments, got {arguments!r}",
                tool=self.name,
            )
        try:
            checked = self.arguments.model_validate(dict(arguments))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
                for e in exc.errors()[:5]
            )
            raise ToolError(
                f"tool {self.name!r} was called with wrong arguments ({problems}); its "
                f"parameters are {json.dumps(self.parameters.get('properties', {}))}",
                tool=self.name,
            ) from None
        return {name: getattr(checked, name) for name in type(checked).model_fields}

    async def call(self, arguments: Mapping[str, Any]) -> Any:
        """Validate ``arguments`` and run the tool (in a thread when it is a plain
        ``def``), within its timeout. Errors come out as :class:`ToolError`. Inside a step
        the call is recorded (and a resumed step gets the recorded result back)."""
        ctx = current_step.get()
        step = ctx if isinstance(ctx, StepContext) else None
        index, fingerprint = 0, ""
        if step is not None:
            fingerprint = tool_fingerprint(self.name, arguments)
            index, prior = step.next_call("tool", fingerprint)
            if isinstance(prior, ToolCalled):
                if prior.error:
                    raise ToolError(prior.error, tool=self.name)
                return prior.output
        t0 = time.perf_counter()
        try:
            output = await self._run(self.validate(arguments))
        except ToolError as exc:
            if step is not None:
                await self._record(step, index, fingerprint, arguments, None, str(exc), t0)
            raise
        if step is not None:
            await self._record(step, index, fingerprint, arguments, output, "", t0)
        return output

    async def _record(
        self,
        step: StepContext,
        index: int,
        fingerprint: str,
        arguments: Mapping[str, Any],
        output: Any,
        error: str,
        t0: float,
    ) -> None:
        await step.record(
            ToolCalled,
            index=index,
            tool=self.name,
            arguments=_jsonable(dict(arguments) if isinstance(arguments, Mapping) else {}),
            output=_jsonable(output),
            error=error,
            latency=time.perf_counter() - t0,
            fingerprint=fingerprint,
        )

    async def _run(self, kwargs: dict[str, Any]) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                if self.is_async:
                    return await self.fn(**kwargs)
                return await asyncio.to_thread(self.fn, **kwargs)
        except TimeoutError:
            raise ToolError(
                f"tool {self.name!r} did not finish within {self.timeout:g} s", tool=self.name
            ) from None
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(
                f"tool {self.name!r} failed: {type(exc).__name__}: {exc}", tool=self.name
            ) from exc


def tool_fingerprint(name: str, arguments: Any) -> str:
    """A hash of a tool call: its tool's name and arguments."""
    text = json.dumps([name, _jsonable(arguments)], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _jsonable(value: Any) -> Any:
    from pydantic_core import to_jsonable_python

    try:
        return to_jsonable_python(value, fallback=repr)
    except Exception:
        return repr(value)


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *, name: str | None = None, description: str | None = None, timeout: float | None = 30.0
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = 30.0,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a typed function a :class:`Tool`: ``@tool`` or ``@tool(timeout=5)``."""
    if fn is not None:
        return Tool(fn)

    def make(f: Callable[..., Any]) -> Tool:
        return Tool(f, name=name, description=description, timeout=timeout)

    return make
