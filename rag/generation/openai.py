"""Any OpenAI-compatible chat server (`vllm serve`, llama.cpp, a hosted API) over httpx.

Structured output uses `response_format: {"type": "json_schema", ...}`, which vLLM's
server enforces. Token budgets use a local tokenizer when one is configured, else the
server's `/tokenize` (vLLM has one), else an estimate of four characters per token.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx

from rag.generation.base import (
    GenerationError,
    GenerationParams,
    GeneratorUnavailableError,
    PromptInput,
    as_messages,
    check_required,
    json_params,
    parse_json_object,
)


class OpenAIGenerator:
    """Chat completions from an OpenAI-compatible server.

    Args:
        base_url: the API root up to and including `/v1`.
        api_key: sent as a bearer token when not empty.
        model: the served model; None takes the first one `/models` lists.
        timeout: seconds per request.
        tokenizer: a tokenizer folder for exact token counts (optional).
        max_model_len: the served model's context length.
    """

    name = "openai"

    def __init__(self, base_url: str, *, api_key: str = "", model: str | None = None,
                 timeout: float = 120.0, tokenizer: str | None = None,
                 max_model_len: int = 2048) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.tokenizer_name = tokenizer
        self.max_model_len = max_model_len
        self.client: httpx.Client | None = None
        self._tokenizer: Any = None
        self._server_tokenize = True

    def load(self) -> OpenAIGenerator:
        """Open the HTTP client and learn the model name (and its length, when listed).

        Raises:
            GeneratorUnavailableError: when the server does not answer `/models`.
        """
        if self.client is not None:
            return self
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=self.timeout)
        try:
            listed = self.client.get("/models")
            listed.raise_for_status()
        except httpx.HTTPError as exc:
            self.close()
            raise GeneratorUnavailableError(f"no OpenAI-compatible server at {self.base_url}: {exc}") from exc
        models = listed.json().get("data") or []
        if self.model is None:
            if not models:
                raise GeneratorUnavailableError(f"{self.base_url}/models lists no model")
            self.model = models[0]["id"]
        for entry in models:
            if entry.get("id") == self.model and isinstance(entry.get("max_model_len"), int):
                self.max_model_len = entry["max_model_len"]
        if self.tokenizer_name:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_name)
        return self

    def close(self) -> None:
        """Close the HTTP client."""
        client, self.client = self.client, None
        if client is not None:
            client.close()

    def _client(self) -> httpx.Client:
        if self.client is None:
            raise GenerationError("the openai generator is not loaded; call load() first")
        return self.client

    def body(self, prompt: PromptInput, params: GenerationParams, **extra: Any) -> dict[str, Any]:
        """The `/chat/completions` request body."""
        body: dict[str, Any] = {"model": self.model, "messages": as_messages(prompt),
                                "max_tokens": params.max_tokens,
                                "temperature": params.temperature, "top_p": params.top_p}
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        return {**body, **extra}

    def _post(self, body: dict[str, Any]) -> str:
        try:
            response = self._client().post("/chat/completions", json=body)
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"] or ""
        except httpx.HTTPStatusError as exc:
            raise GenerationError(f"{self.base_url} answered {exc.response.status_code}: "
                                  f"{exc.response.text[:300]}") from exc
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise GenerationError(f"chat completion from {self.base_url} failed: {exc}") from exc

    def generate(self, prompt: PromptInput, params: GenerationParams | None = None) -> str:
        """The model's reply to `prompt`."""
        return self._post(self.body(prompt, params or GenerationParams()))

    def stream(self, prompt: PromptInput, params: GenerationParams | None = None,
               ) -> Iterator[str]:
        """The reply piece by piece, from the server's SSE stream."""
        body = self.body(prompt, params or GenerationParams(), stream=True)
        try:
            with self._client().stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GenerationError(f"{self.base_url} answered {response.status_code}: "
                                          f"{response.text[:300]}")
                yield from sse_content(response.iter_lines())
        except httpx.HTTPError as exc:
            raise GenerationError(f"streaming from {self.base_url} failed: {exc}") from exc

    def generate_json(self, prompt: PromptInput, schema: dict[str, Any],
                      params: GenerationParams | None = None) -> dict[str, Any]:
        """A JSON object that follows `schema` (the server enforces it via `response_format`).

        Raises:
            GenerationError: when the reply does not parse or lacks required keys.
        """
        response_format = {"type": "json_schema",
                           "json_schema": {"name": "reply", "schema": schema, "strict": True}}
        text = self._post(self.body(prompt, json_params(params), response_format=response_format))
        return check_required(parse_json_object(text), schema)

    def count_tokens(self, text: str) -> int:
        """Exact with a local tokenizer or the server's `/tokenize`; else about len/4."""
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False))
        if self._server_tokenize and self.client is not None:
            root = self.base_url.removesuffix("/v1")
            try:
                response = self.client.post(f"{root}/tokenize", json={
                    "model": self.model, "prompt": text, "add_special_tokens": False})
                if response.status_code == 200 and "count" in response.json():
                    return int(response.json()["count"])
            except (httpx.HTTPError, ValueError):
                pass
            self._server_tokenize = False  # not a vLLM server: estimate from now on
        return math.ceil(len(text) / 4)


def sse_content(lines: Iterator[str]) -> Iterator[str]:
    """The `delta.content` pieces of an OpenAI chat-completions SSE stream.

    Raises:
        GenerationError: for an event that is not JSON or that reports an error.
    """
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise GenerationError(f"a stream event is not JSON: {data[:200]!r}") from exc
        if "error" in event:
            raise GenerationError(f"the server reported an error mid-stream: {event['error']}")
        for choice in event.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                yield piece
