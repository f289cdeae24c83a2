"""vLLM's OpenAI-compatible server with SmolLM2 on CPU, started and stopped by the test on
a loopback port, driven through the `openai` generator. Skipped without vllm."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from rag.generation.base import GenerationParams
from rag.generation.openai import OpenAIGenerator
from tests.rag.generation.fakes import free_port
from tests.rag.generation.vllm_support import needs_vllm, smollm2_models_dir

pytestmark = needs_vllm

START_TIMEOUT = 900  # seconds; about 40 s on an idle 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """`python -m vllm.entrypoints.openai.api_server` on a free port; stopped at the end."""
    folder = smollm2_models_dir() / "smollm2"
    port = free_port()
    log = (tmp_path_factory.mktemp("vllm-server") / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
         "--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port),
         "--enforce-eager", "--dtype", "bfloat16", "--max-model-len", "2048"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log.name)
        yield f"{url}/v1"
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
        log.close()


def wait_healthy(url: str, process: subprocess.Popen, log_path: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            with open(log_path) as log:
                pytest.fail(f"the vLLM server exited ({process.returncode}):\n{log.read()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    pytest.fail(f"the vLLM server was not healthy within {START_TIMEOUT}s")


def test_round_trip_through_the_openai_generator(server):
    gen = OpenAIGenerator(server, timeout=300).load()
    try:
        assert gen.model == "smollm2" and gen.max_model_len == 2048
        params = GenerationParams(max_tokens=24)
        question = "What is the capital of France? Answer in one word."
        text = gen.generate(question, params)
        assert "paris" in text.lower()
        assert "".join(gen.stream(question, params)) == text
        schema = {"type": "object", "additionalProperties": False, "required": ["city"],
                  "properties": {"city": {"type": "string", "maxLength": 30}}}
        reply = gen.generate_json("The capital of France, as JSON with the key city.", schema,
                                  GenerationParams(max_tokens=40))
        assert set(reply) == {"city"} and len(reply["city"]) <= 30
        assert gen.count_tokens("hello world") == 2  # the server's /tokenize, exact
    finally:
        gen.close()
