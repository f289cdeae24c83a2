"""The one protocol every LLM backend implements, and the values it takes.

Backends: `vllm` (in-process `vllm.LLM`), `openai` (any OpenAI-compatible server),
`local` (a small model through transformers on CPU). Constructors are cheap; `load()`
starts the engine. A prompt is a string (sent as one user turn) or chat messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from rag.errors import RagmemError

Messages = Sequence[Mapping[str, str]]
PromptInput = str | Messages

JSON_MAX_TOKENS = 512
"""Default output cap for `generate_json`: structured output must be bounded."""


class GenerationError(RagmemError):
    """A backend failed to produce text, or produced JSON that does not parse."""


class GeneratorUnavailableError(RagmemError):
    """A backend cannot start: its model folder is missing or its server is unreachable."""


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters shared by every backend.

    Attributes:
        max_tokens: most tokens to generate.
        temperature: 0 is greedy (the default: answers should be reproducible).
        top_p: nucleus sampling mass.
        stop: strings that end generation.
        seed: sampling seed, where the backend supports one.
    """

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens!r}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")


@runtime_checkable
class Generator(Protocol):
    """An LLM: text, streamed text, JSON that follows a schema, token counts."""

    name: str
    max_model_len: int

    def load(self) -> Generator:
        """Start the engine or client; returns self."""
        ...

    def generate(self, prompt: PromptInput, params: GenerationParams | None = None) -> str:
        """The model's reply to `prompt`."""
        ...

    def stream(self, prompt: PromptInput, params: GenerationParams | None = None,
               ) -> Iterator[str]:
        """The reply to `prompt`, piece by piece as the model writes it."""
        ...

    def generate_json(self, prompt: PromptInput, schema: dict[str, Any],
                      params: GenerationParams | None = None) -> dict[str, Any]:
        """A reply that is a JSON object following `schema`."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` under the model's own tokenizer (no special tokens)."""
        ...

    def close(self) -> None:
        """Stop the engine or client."""
        ...


def as_messages(prompt: PromptInput) -> list[dict[str, str]]:
    """Chat messages for `prompt`: a string becomes one user turn.

    Raises:
        ValueError: for an empty prompt or a message without role and content.
    """
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ValueError("the prompt is empty")
        return [{"role": "user", "content": prompt}]
    messages = [dict(m) for m in prompt]
    if not messages:
        raise ValueError("no messages were given")
    for message in messages:
        if message.get("role") not in {"system", "user", "assistant"} or "content" not in message:
            raise ValueError(f"a message needs a role (system/user/assistant) and content: {message!r}")
    return messages


def json_params(params: GenerationParams | None) -> GenerationParams:
    """Greedy, bounded parameters for structured output."""
    if params is None:
        return GenerationParams(max_tokens=JSON_MAX_TOKENS, temperature=0.0)
    return params


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model's reply (a ```json fence around it is allowed).

    Raises:
        GenerationError: when the reply holds no JSON object.
    """
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        start, end = body.find("{"), body.rfind("}")
        try:
            value = json.loads(body[start:end + 1]) if 0 <= start < end else None
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, dict):
        raise GenerationError(f"the model's reply is not a JSON object: {text[:200]!r}")
    return value


def check_required(value: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """`value` when it has every top-level key `schema` requires.

    Raises:
        GenerationError: naming the missing keys.
    """
    missing = [k for k in schema.get("required", []) if k not in value]
    if missing:
        raise GenerationError(f"the model's JSON lacks required keys {missing}: {value!r}"[:300])
    return value
