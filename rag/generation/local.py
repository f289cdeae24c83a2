"""A small model through transformers on CPU (no vLLM): SmolLM2-135M-Instruct by default.

It loads the same prepared folder as the vllm backend (`ragmem models prepare smollm2`).
transformers has no constrained decoding, so `generate_json` asks for JSON in the
prompt and checks the reply; a malformed reply is a `GenerationError`, never a guess.
"""

from __future__ import annotations

import json
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


class LocalGenerator:
    """A causal LM from a local folder, run with `model.generate` on CPU.

    Args:
        model_path: a Hugging Face model folder (safetensors + tokenizer + chat template).
        dtype: torch dtype name ("float32" is the fastest on most CPUs for small models).
        max_model_len: context length to allow.
    """

    name = "local"

    def __init__(self, model_path: Path, *, dtype: str = "float32", max_model_len: int = 2048) -> None:
        if dtype not in {"float32", "bfloat16", "float16"}:
            raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
        self.model_path = Path(model_path)
        self.dtype = dtype
        self.max_model_len = max_model_len
        self.model: Any = None
        self.tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> LocalGenerator:
        """Read the weights and tokenizer (a few seconds for 135M parameters)."""
        if self.model is not None:
            return self
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise MissingDependencyError("the local generator needs transformers and torch: "
                                         "pip install 'ragmem[local]'") from exc
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path,
                                                          dtype=getattr(torch, self.dtype))
        self.model.eval()
        return self

    def close(self) -> None:
        """Drop the model."""
        self.model = self.tokenizer = None

    def _inputs(self, prompt: PromptInput) -> Any:
        if self.model is None:
            raise GenerationError("the local generator is not loaded; call load() first")
        return self.tokenizer.apply_chat_template(as_messages(prompt), add_generation_prompt=True,
                                                  return_tensors="pt", return_dict=True)

    def _generate_kwargs(self, inputs: Any, params: GenerationParams) -> dict[str, Any]:
        kwargs: dict[str, Any] = {**inputs, "max_new_tokens": params.max_tokens,
                                  "pad_token_id": self.tokenizer.eos_token_id}
        if params.temperature > 0:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        return kwargs

    def generate(self, prompt: PromptInput, params: GenerationParams | None = None) -> str:
        """The model's reply to `prompt` (greedy unless a temperature is given)."""
        import torch

        params = params or GenerationParams()
        inputs = self._inputs(prompt)
        if params.seed is not None:
            torch.manual_seed(params.seed)
        with self._lock, torch.inference_mode():
            output = self.model.generate(**self._generate_kwargs(inputs, params))
        new = output[0, inputs["input_ids"].shape[1]:]
        return self.tokenizer.decode(new, skip_special_tokens=True)

    def stream(self, prompt: PromptInput, params: GenerationParams | None = None,
               ) -> Iterator[str]:
        """The reply piece by piece (transformers' `TextIteratorStreamer`)."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        params = params or GenerationParams()
        inputs = self._inputs(prompt)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=300)
        stopped = threading.Event()

        class Cancelled(StoppingCriteria):
            """Ends generation when the reader stops reading."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return stopped.is_set()

        kwargs = {**self._generate_kwargs(inputs, params), "streamer": streamer,
                  "stopping_criteria": StoppingCriteriaList([Cancelled()])}

        def run() -> None:
            with self._lock, torch.inference_mode():
                self.model.generate(**kwargs)

        worker = threading.Thread(target=run, name="local-generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            stopped.set()
            worker.join()

    def generate_json(self, prompt: PromptInput, schema: dict[str, Any],
                      params: GenerationParams | None = None) -> dict[str, Any]:
        """A JSON object for `schema`, asked for in the prompt and checked (not enforced).

        Raises:
            GenerationError: when the reply is not a JSON object with the required keys.
        """
        messages = as_messages(prompt)
        messages[-1] = {**messages[-1], "content": (
            f"{messages[-1]['content']}\n\nReply with only a JSON object that follows this "
            f"JSON schema:\n{json.dumps(schema)}")}
        return check_required(parse_json_object(self.generate(messages, json_params(params))), schema)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` under the model's tokenizer."""
        if self.tokenizer is None:
            raise GenerationError("the local generator is not loaded; call load() first")
        return len(self.tokenizer.encode(text, add_special_tokens=False))
