"""Stand-ins for tests without a model: a scripted generator and a fake OpenAI server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from rag.generation.base import GenerationParams, PromptInput, as_messages, parse_json_object


class ScriptedGenerator:
    """A `Generator` that replies with a fixed text; counts words as tokens."""

    name = "scripted"

    def __init__(self, reply: str, *, max_model_len: int = 2048) -> None:
        self.reply = reply
        self.max_model_len = max_model_len
        self.prompts: list[list[dict[str, str]]] = []
        self.loaded = False

    def load(self) -> ScriptedGenerator:
        self.loaded = True
        return self

    def close(self) -> None:
        self.loaded = False

    def generate(self, prompt: PromptInput, params: GenerationParams | None = None) -> str:
        self.prompts.append(as_messages(prompt))
        return self.reply

    def stream(self, prompt: PromptInput, params: GenerationParams | None = None) -> Iterator[str]:
        self.prompts.append(as_messages(prompt))
        for i in range(0, len(self.reply), 3):  # 3-character pieces split markers apart
            yield self.reply[i:i + 3]

    def generate_json(self, prompt: PromptInput, schema: dict[str, Any],
                      params: GenerationParams | None = None) -> dict[str, Any]:
        return parse_json_object(self.generate(prompt, params))

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fake_openai_app(reply: str, requests: list[dict[str, Any]]) -> FastAPI:
    """An OpenAI-compatible server whose model always says `reply` (or `{"answer": reply}`
    when asked for JSON); it records every request body."""
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": "fake-model", "max_model_len": 1024}]}

    @app.post("/tokenize")
    async def tokenize(request: Request) -> dict:
        body = await request.json()
        return {"count": len(body["prompt"].split()), "tokens": []}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):  # noqa: ANN202
        body = await request.json()
        requests.append(body)
        if request.headers.get("authorization") not in (None, "Bearer sekret"):
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        text = json.dumps({"answer": reply}) if "response_format" in body else reply
        if not body.get("stream"):
            return {"id": "x", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}]}

        def events() -> Iterator[str]:
            for i in range(0, len(text), 4):
                delta = {"choices": [{"index": 0, "delta": {"content": text[i:i + 4]}}]}
                yield f"data: {json.dumps(delta)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


class FakeOpenAIServer:
    """`fake_openai_app` served by uvicorn on a loopback port, in a thread."""

    def __init__(self, reply: str) -> None:
        self.requests: list[dict[str, Any]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(fake_openai_app(reply, self.requests), host="127.0.0.1",
                                port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/models", timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError("the fake OpenAI server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
