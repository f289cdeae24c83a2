"""Generator names -> backends. Optional libraries are imported by the backend, on load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.errors import InvalidInputError
from rag.generation.base import Generator
from rag.generation.models import resolve_model
from rag.settings import GenerationSettings

LLM_GENERATORS = ("vllm", "openai", "local")
GENERATOR_NAMES = ("extractive", *LLM_GENERATORS)


def check_generator_name(name: str) -> str:
    """`name` when it names a generator.

    Raises:
        InvalidInputError: naming the choices.
    """
    if name not in GENERATOR_NAMES:
        raise InvalidInputError(f"unknown generator {name!r}; choose one of {', '.join(GENERATOR_NAMES)}")
    return name


def make_generator(name: str, settings: GenerationSettings, *, models_dir: Path) -> Generator:
    """The LLM backend called `name`, not yet loaded (cheap).

    Args:
        name: "vllm", "openai" or "local".
        settings: the generation settings group.
        models_dir: where prepared models live (`settings.models_dir` wins when set).

    Raises:
        InvalidInputError: for an unknown name (or "extractive", which is not an LLM).
        GeneratorUnavailableError: when the model folder vllm/local need is missing.
    """
    if name not in LLM_GENERATORS:
        raise InvalidInputError(f"{name!r} is not an LLM generator; choose one of {', '.join(LLM_GENERATORS)}")
    if name == "openai":
        from rag.generation.openai import OpenAIGenerator

        cfg = settings.openai
        return OpenAIGenerator(cfg.base_url, api_key=cfg.api_key.get_secret_value(), model=cfg.model,
                               timeout=cfg.timeout, tokenizer=cfg.tokenizer,
                               max_model_len=settings.max_model_len)
    path = resolve_model(settings.model, settings.models_dir or models_dir)
    if name == "vllm":
        from rag.generation.vllm import VLLMGenerator

        return VLLMGenerator(path, dtype=settings.dtype, max_model_len=settings.max_model_len,
                             enforce_eager=settings.enforce_eager, kv_cache_gb=settings.kv_cache_gb,
                             gpu_memory_utilization=settings.gpu_memory_utilization)
    from rag.generation.local import LocalGenerator

    return LocalGenerator(path, dtype=settings.local_dtype, max_model_len=settings.max_model_len)


def make_answerer(name: str, settings: GenerationSettings, *, models_dir: Path, embedder: Any) -> Any:
    """The answer generator (rag.retrieval.pipeline.AnswerGenerator) called `name`, not yet loaded.

    "extractive" needs only the embedder; the others wrap an LLM backend in an
    `LLMAnswerer` (call its `load()` before use).

    Raises:
        InvalidInputError: for an unknown name.
    """
    check_generator_name(name)
    if name == "extractive":
        from rag.generation.extractive import ExtractiveGenerator

        return ExtractiveGenerator(embedder, max_sentences=settings.max_sentences)
    from rag.generation.llm_answer import LLMAnswerer

    return LLMAnswerer(make_generator(name, settings, models_dir=models_dir),
                       max_tokens=settings.max_tokens, max_context_tokens=settings.max_context_tokens,
                       temperature=settings.temperature)
