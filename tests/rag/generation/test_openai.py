"""The OpenAI-compatible backend against a real HTTP server on a loopback port."""

from __future__ import annotations

import pytest

from rag.generation.base import GenerationError, GenerationParams, GeneratorUnavailableError
from rag.generation.openai import OpenAIGenerator, sse_content
from tests.rag.generation.fakes import FakeOpenAIServer, free_port

pytestmark = pytest.mark.integration


def test_generate_stream_json_and_token_counts():
    with FakeOpenAIServer("Gustave Eiffel [1].") as server:
        gen = OpenAIGenerator(server.url, api_key="sekret").load()
        try:
            assert gen.model == "fake-model" and gen.max_model_len == 1024
            assert gen.generate("Who?", GenerationParams(max_tokens=7, stop=("\n",))) == "Gustave Eiffel [1]."
            sent = server.requests[-1]
            assert sent["messages"] == [{"role": "user", "content": "Who?"}]
            assert sent["max_tokens"] == 7 and sent["stop"] == ["\n"] and sent["temperature"] == 0.0
            pieces = list(gen.stream([{"role": "system", "content": "s"},
                                      {"role": "user", "content": "Who?"}]))
            assert len(pieces) > 1 and "".join(pieces) == "Gustave Eiffel [1]."
            assert server.requests[-1]["stream"] is True
            schema = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40}},
                      "required": ["answer"]}
            assert gen.generate_json("Who?", schema) == {"answer": "Gustave Eiffel [1]."}
            assert server.requests[-1]["response_format"]["json_schema"]["schema"] == schema
            with pytest.raises(GenerationError, match="required keys"):
                gen.generate_json("Who?", {**schema, "required": ["answer", "year"]})
            assert gen.count_tokens("one two three") == 3  # the server's /tokenize
        finally:
            gen.close()


def test_errors_are_narrow_and_name_the_server():
    with FakeOpenAIServer("x") as server:
        gen = OpenAIGenerator(server.url, api_key="wrong").load()
        with pytest.raises(GenerationError, match="401"):
            gen.generate("Who?")
        with pytest.raises(GenerationError, match="401"):
            list(gen.stream("Who?"))
        gen.close()
    with pytest.raises(GeneratorUnavailableError, match="no OpenAI-compatible server"):
        OpenAIGenerator(f"http://127.0.0.1:{free_port()}/v1", timeout=2).load()
    with pytest.raises(GenerationError, match="not loaded"):
        OpenAIGenerator("http://127.0.0.1:1/v1").generate("x")
    with pytest.raises(ValueError, match="ftp://x"):
        OpenAIGenerator("ftp://x")


def test_sse_content_parsing():
    lines = ['data: {"choices": [{"delta": {"role": "assistant"}}]}', "",
             ': keep-alive', 'data: {"choices": [{"delta": {"content": "Hi"}}]}',
             'data: [DONE]', 'data: {"choices": [{"delta": {"content": "late"}}]}']
    assert list(sse_content(iter(lines))) == ["Hi"]
    with pytest.raises(GenerationError, match="mid-stream"):
        list(sse_content(iter(['data: {"error": {"message": "boom"}}'])))
    with pytest.raises(GenerationError, match="not JSON"):
        list(sse_content(iter(["data: {oops"])))
