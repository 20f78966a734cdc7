"""W9: model calls through plait's agent layer.

``W9``: 200 agents each make one model call at once, against a local OpenAI-compatible
server (a subprocess) that answers every request after 50 ms: the ideal is 0.05 s. The
baseline makes the same 200 calls with the bare ``openai`` client.
Both use the SDK's aiohttp transport (plait's default with ``openai[aiohttp]``).
``W9h``: the same with the SDK's default httpx client on both sides, whose own client
time dominates with 200 calls at once.
``W9o``: plait's own cost per model call, the model's time excluded: an agent's one-call
run inside a flow step (recorded in the run) against a scripted model that answers at
once. The baseline is the scripted model's call alone.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks._common import Rep, Sample

CALLS = 200
DELAY = 0.05
OVERHEAD_CALLS = 2_000

_SERVER = r"""
import asyncio, json, sys
BODY = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "fake",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
}).encode()
DELAY = float(sys.argv[2])

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"POST"):
                await asyncio.sleep(DELAY)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(BODY), BODY))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def fake_openai_server(delay: float = DELAY) -> Iterator[str]:
    """An OpenAI-compatible chat server in a subprocess; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _server_rep(run_calls: Any) -> Rep:
    async def rep() -> Sample:
        with fake_openai_server() as url:
            await run_calls(url, 5)  # warm the connection pool
            t0 = time.perf_counter()
            answers = await run_calls(url, CALLS)
            wall = time.perf_counter() - t0
        problem = "" if answers == ["ok"] * CALLS else f"wrong answers: {answers[:3]}"
        return Sample(wall, problem)

    return rep


def _w9_plait(transport: str) -> Rep:
    from plait.agents import Agent
    from plait.llm import Model
    from plait.llm._openai import OpenAIProvider

    providers: dict[str, OpenAIProvider] = {}

    async def calls(url: str, n: int) -> list[str]:
        provider = providers.get(url)
        if provider is None:
            provider = providers[url] = OpenAIProvider(url, "x", transport=transport)
        model = Model("fake", provider=provider)
        agents = [Agent(f"Agent {i}", "Answer", llm=model) for i in range(n)]
        results = await asyncio.gather(*(a.run("Say ok") for a in agents))
        if n == CALLS:
            await provider.close()
        return [r.text for r in results]

    return _server_rep(calls)


def w9_plait() -> Rep:
    return _w9_plait("aiohttp")  # the default when openai[aiohttp] is installed


def w9h_plait() -> Rep:
    return _w9_plait("httpx")


def _w9_baseline(aiohttp: bool) -> Rep:
    from openai import AsyncOpenAI, DefaultAioHttpClient

    clients: dict[str, AsyncOpenAI] = {}

    async def calls(url: str, n: int) -> list[str]:
        client = clients.get(url)
        if client is None:
            http = DefaultAioHttpClient() if aiohttp else None
            client = clients[url] = AsyncOpenAI(base_url=url, api_key="x", http_client=http)
        results = await asyncio.gather(
            *(
                client.chat.completions.create(
                    model="fake", messages=[{"role": "user", "content": "Say ok"}]
                )
                for _ in range(n)
            )
        )
        if n == CALLS:
            await client.close()
        return [r.choices[0].message.content or "" for r in results]

    return _server_rep(calls)


def w9_baseline() -> Rep:
    return _w9_baseline(aiohttp=True)


def w9h_baseline() -> Rep:
    return _w9_baseline(aiohttp=False)


def w9o_plait() -> Rep:
    from plait import Flow, start
    from plait.agents import Agent
    from plait.llm import Model, ScriptedProvider

    model = Model("m", provider=ScriptedProvider(["ok"], repeat_last=True))
    agent = Agent("Agent", "Answer", llm=model)

    class Calls(Flow):
        @start()
        async def call(self) -> int:
            for _ in range(OVERHEAD_CALLS):
                await agent.run("Say ok")
            return OVERHEAD_CALLS

    async def rep() -> Sample:
        flow = Calls()
        t0 = time.perf_counter()
        await flow.kickoff_async()
        per_call = (time.perf_counter() - t0) / OVERHEAD_CALLS * 1e6
        recorded = sum(type(e).__name__ == "ModelCalled" for e in flow.events)
        problem = "" if recorded == OVERHEAD_CALLS else f"{recorded} calls recorded"
        return Sample(per_call, problem)

    return rep


def w9o_baseline() -> Rep:
    from plait.llm import Request, ScriptedProvider
    from plait.llm._messages import Message

    provider = ScriptedProvider(["ok"], repeat_last=True)
    request = Request(messages=[Message.user("Say ok")])

    async def rep() -> Sample:
        t0 = time.perf_counter()
        for _ in range(OVERHEAD_CALLS):
            await provider.complete("m", request)
        provider.requests.clear()
        return Sample((time.perf_counter() - t0) / OVERHEAD_CALLS * 1e6)

    return rep


__all__ = [
    "fake_openai_server",
    "w9_baseline",
    "w9_plait",
    "w9h_baseline",
    "w9h_plait",
    "w9o_baseline",
    "w9o_plait",
]
