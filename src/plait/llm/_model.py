"""``Model``: one interface to every provider — chat, streaming, structured output, tools.

``Model("openai:gpt-4o-mini")`` picks the provider by the prefix of its name (see
:mod:`plait.llm._registry`). Every call goes through the provider's shared limits, is
retried when the provider says another try may help (or it timed out) by the same
:class:`~plait.define.RetryPolicy` a step's ``retry=`` takes — honouring Retry-After —
and, inside a step, is recorded in the run as ``ModelCalled`` with latency, tokens and
cost. A resumed step gets a recorded call's response back instead of calling again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from plait.core import ModelError, ModelOutputError
from plait.define import RetryPolicy, current_step
from plait.llm._limits import Limits
from plait.llm._messages import Message, Request, Response, ToolSpec
from plait.llm._prices import cost
from plait.llm._provider import Provider, ProviderFailure
from plait.llm._registry import default_spec, limits_for, resolve
from plait.runtime import ModelCalled, StepContext, TokenStreamed

T = TypeVar("T")

Prompt = str | Message | Sequence[Message | dict[str, Any]]
"""A user message's text, one message, or a conversation."""

MAX_RETRY_AFTER = 120.0
"""The longest Retry-After plait waits for before a retry; longer fails the call."""

MODEL_RETRY = RetryPolicy(attempts=5, backoff=0.5, multiplier=2.0, max_backoff=30.0, jitter=0.5)
"""A model call's default: five tries in all, waiting about 0.5, 1, 2 and 4 s between."""

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def _step() -> StepContext | None:
    ctx = current_step.get()
    return ctx if isinstance(ctx, StepContext) else None


def messages_of(prompt: Prompt, system: str | None = None) -> list[Message]:
    """``prompt`` as a list of messages, with ``system`` first if given."""
    if isinstance(prompt, str):
        out = [Message.user(prompt)]
    elif isinstance(prompt, Message):
        out = [prompt]
    else:
        out = [m if isinstance(m, Message) else Message.model_validate(m) for m in prompt]
    if system:
        out = [Message.system(system), *out]
    return out


def json_text(text: str) -> str:
    """The JSON in a model's answer: without a Markdown code fence around it."""
    found = _FENCE.match(text)
    return found.group(1) if found else text.strip()


class Model:
    """A model of a provider. ``spec`` is ``"provider:model"`` (``openai:gpt-4o-mini``,
    ``anthropic:claude-3-5-haiku-latest``, ``litellm:…``, ``local:smollm2``); None means
    ``PLAIT_MODEL``, else the offline local model. ``provider=`` passes a provider object
    instead (a :class:`ScriptedProvider` in tests). ``cache=True`` (or a ttl in seconds)
    reuses the response to an identical request made before, from the run's store (the
    step cache's storage): inside steps, with a store that outlives the run.

    ``retry`` means what a step's ``retry=`` means: a :class:`~plait.define.RetryPolicy`,
    or ``N`` for ``RetryPolicy(attempts=N)`` — N tries in all, the first one included
    (``retry=1`` never retries), waiting as :data:`MODEL_RETRY` does. Only failures the provider calls retryable (rate
    limits, 5xx, lost connections) and timeouts are retried, and only those that are
    instances of the policy's ``retry_on``; a Retry-After from the server replaces the
    policy's wait. The default is :data:`MODEL_RETRY` (five tries)."""

    def __init__(
        self,
        spec: str | None = None,
        *,
        provider: Provider | None = None,
        limits: Limits | None = None,
        retry: RetryPolicy | int | None = None,
        timeout: float | None = 120.0,
        temperature: float | None = None,
        max_tokens: int | None = None,
        cache: bool | float = False,
    ) -> None:
        if provider is not None:
            self.provider, self.name = provider, spec or "model"
        else:
            self.provider, self.name = resolve(spec or default_spec())
        self.limits = limits if limits is not None else limits_for(self.provider)
        self.retry = _retry_policy(retry)
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.cache = cache
        cost(self.provider.name, self.name, 0, 0)  # a bad PLAIT_PRICES fails here, not after a call

    @property
    def spec(self) -> str:
        return f"{self.provider.name}:{self.name}"

    def __repr__(self) -> str:
        return f"Model({self.spec!r})"

    # -- calls -----------------------------------------------------------------------

    async def complete(
        self,
        prompt: Prompt,
        *,
        system: str | None = None,
        tools: Iterable[Any] = (),
        tool_choice: str | None = None,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: Sequence[str] = (),
        stream: bool = False,
    ) -> Response:
        """One model call. ``tools``: :class:`Tool` objects or :class:`ToolSpec`;
        ``json_schema``: the answer must be JSON fitting it; ``stream``: the answer's
        pieces reach the run's listeners as ``TokenStreamed`` while it comes."""
        request = Request(
            messages=messages_of(prompt, system),
            tools=[t if isinstance(t, ToolSpec) else t.spec for t in tools],
            tool_choice=tool_choice,
            json_schema=json_schema,
            max_tokens=max_tokens if max_tokens is not None else self.max_tokens,
            temperature=temperature if temperature is not None else self.temperature,
            stop=list(stop),
        )
        return await self.call(request, stream=stream)

    async def call(self, request: Request, *, stream: bool = False) -> Response:
        """Send ``request``: recorded in the run when called from a step."""
        ctx = _step()
        index, fingerprint = 0, ""
        if ctx is not None:
            fingerprint = self._fingerprint(request)
            index, prior = ctx.next_call("model", fingerprint)
            if isinstance(prior, ModelCalled):
                replayed = Response.model_validate(prior.response)
                return replayed.model_copy(update={"replayed": True})
        t0 = time.perf_counter()
        key = f"plait:model:{fingerprint}" if ctx is not None and self.cache else None
        store = ctx.loop.store if ctx is not None else None
        entry = await store.cache_get(key) if key is not None and store is not None else None
        cached = entry is not None
        if entry is not None:
            response = Response.model_validate(entry.value)
        else:
            response = await self._with_retries(request, ctx, stream)
            if key is not None and store is not None:
                ttl = None if self.cache is True else float(self.cache)
                await store.cache_put(key, response.model_dump(), ttl=ttl)
        latency = time.perf_counter() - t0
        if ctx is not None:
            usage = response.usage
            price = cost(self.provider.name, self.name, usage.input_tokens, usage.output_tokens)
            await ctx.record(
                ModelCalled,
                index=index,
                provider=self.provider.name,
                model=self.name,
                response=response,
                latency=latency,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost=0.0 if cached else price,
                cached=cached,
                fingerprint=fingerprint,
            )
        return response

    def _fingerprint(self, request: Request) -> str:
        """A hash of this model and the request: the same call gets the same one."""
        text = self.spec + "\n" + request.model_dump_json()
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    async def structured(
        self,
        prompt: Prompt,
        output_type: type[T] | Any,
        *,
        system: str | None = None,
        repairs: int = 2,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> T:
        """The answer as ``output_type`` (a pydantic model, or a type such as
        ``list[str]``), validated. An answer that does not fit goes back to the model with
        the problems, at most ``repairs`` times; then :class:`ModelOutputError`."""
        adapter: TypeAdapter[T] = TypeAdapter(output_type)
        schema = adapter.json_schema()
        messages = messages_of(prompt, system)
        problems = ""
        for _ in range(repairs + 1):
            response = await self.complete(
                messages, json_schema=schema, max_tokens=max_tokens, temperature=temperature
            )
            try:
                return adapter.validate_json(json_text(response.text))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'the value'}: {e['msg']}"
                    for e in exc.errors()[:5]
                )
            messages = [
                *messages,
                Message.assistant(response.text),
                Message.user(
                    f"That answer is not valid ({problems}). Answer again with only a JSON "
                    f"value that fits this JSON schema: {json.dumps(schema)}"
                ),
            ]
        raise ModelOutputError(
            f"{self._where()}: the answer did not fit {_type_name(output_type)} after "
            f"{repairs} repair tries ({problems}); try a larger model, a simpler schema, "
            "or more repairs=",
            provider=self.provider.name,
            model=self.name,
        )

    async def stream(self, prompt: Prompt, *, system: str | None = None) -> AsyncIterator[str]:
        """The answer's text in pieces as they come (outside runs; inside a step use
        ``complete(..., stream=True)``, which also records the call)."""
        request = Request(messages=messages_of(prompt, system), max_tokens=self.max_tokens)
        await self.limits.acquire()
        tokens = 0
        try:
            async for piece in self.provider.stream(self.name, request):
                if isinstance(piece, Response):
                    tokens = piece.usage.total_tokens
                else:
                    yield piece
        except ProviderFailure as exc:
            raise self._error(str(exc)) from exc
        finally:
            self.limits.release(tokens)

    # -- retries and errors ----------------------------------------------------------

    async def _with_retries(
        self, request: Request, ctx: StepContext | None, stream: bool
    ) -> Response:
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            await self.limits.acquire()
            tokens = 0
            try:
                async with asyncio.timeout(self.timeout):
                    if stream:
                        response = await self._streamed(request, ctx)
                    else:
                        response = await self.provider.complete(self.name, request)
                tokens = response.usage.total_tokens
                return response
            except ProviderFailure as exc:
                if not (exc.retryable and policy.should_retry(exc, attempt)):
                    raise self._error(str(exc), attempt) from exc
                wait = exc.retry_after
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise self._error(
                        f"{exc}; the server asks to wait {wait:g} s, more than plait waits "
                        f"({MAX_RETRY_AFTER:g} s): try later",
                        attempt,
                    ) from exc
            except TimeoutError as exc:
                if not policy.should_retry(exc, attempt):
                    raise self._error(f"no answer within {self.timeout:g} s", attempt) from exc
                wait = None
            finally:
                self.limits.release(tokens)
            await asyncio.sleep(policy.delay(attempt) if wait is None else wait)

    async def _streamed(self, request: Request, ctx: StepContext | None) -> Response:
        final: Response | None = None
        async for piece in self.provider.stream(self.name, request):
            if isinstance(piece, Response):
                final = piece
            elif ctx is not None:
                ctx.notify(
                    TokenStreamed(
                        run_id=ctx.run_id,
                        seq=0,
                        ts=time.time(),
                        step=ctx.step,
                        invocation=ctx.invocation,
                        text=piece,
                    )
                )
        if final is None:
            raise ProviderFailure("the stream ended without a final response", retryable=True)
        return final

    def _where(self) -> str:
        ctx = _step()
        where = f"model {self.spec}"
        if ctx is not None:
            where += f" in step {ctx.step!r} of run {ctx.run_id} ({ctx.flow})"
        return where

    def _error(self, message: str, attempts: int = 1) -> ModelError:
        tries = f" after {attempts} tries" if attempts > 1 else ""
        return ModelError(
            f"{self._where()} failed{tries}: {message}",
            provider=self.provider.name,
            model=self.name,
        )


def _retry_policy(retry: RetryPolicy | int | None) -> RetryPolicy:
    """``Model(retry=...)`` as a policy, read as a step's ``retry=`` is."""
    if retry is None:
        return MODEL_RETRY
    if isinstance(retry, RetryPolicy):
        return retry
    if isinstance(retry, int) and not isinstance(retry, bool):
        return dataclasses.replace(MODEL_RETRY, attempts=retry)
    raise ModelError(f"Model(retry=...) takes a RetryPolicy or a number of tries, not {retry!r}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)
