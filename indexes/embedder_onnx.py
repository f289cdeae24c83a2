"""ONNX Runtime backends of the embedder: `onnx` (float32) and `onnx-int8` (dynamic int8).

The local sentence-transformers weights are exported once with `torch.onnx.export`
(transformer + mean pooling + L2 normalisation in one graph, as the model's modules.json
declares: Transformer, Pooling(mean), Normalize), fused with ONNX Runtime's BERT
optimizer, and for `onnx-int8` quantized with `quantize_dynamic` (QInt8 weights, per
channel, reduced range: this CPU class, AVX2 without VNNI, saturates full-range u8s8
products; the FFN down-projections stay float32, they carry the activation outliers).
The files are cached in `cache_dir`, keyed by a hash of the weights file, so a second
construction loads them without exporting again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexes.errors import MissingDependencyError

EXPORT_VERSION = "1"  # bump when the export or quantization recipe changes
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def weights_file(model_path: Path) -> Path:
    """The model's weights file (the hash key of the cache)."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_path / name).is_file():
            return model_path / name
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {model_path}")


def weights_hash(model_path: Path) -> str:
    """sha256 of the weights file, first 16 hex digits."""
    digest = hashlib.sha256()
    with weights_file(model_path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _check_pooling(model_path: Path) -> None:
    """Only mean pooling is exported; anything else is a clear error, not wrong vectors."""
    config = model_path / "1_Pooling" / "config.json"
    if config.is_file():
        pooling = json.loads(config.read_text())
        modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
        if modes != ["pooling_mode_mean_tokens"]:
            raise ValueError(f"the ONNX backends export mean pooling only; {model_path} uses {modes}")


def max_seq_length_of(model_path: Path, default: int = 512) -> int:
    config = model_path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length") or default)
    return default


def export_onnx(model_path: Path, target: Path) -> None:
    """Export transformer + mean pooling + L2 normalisation to `target` (float32, fused)."""
    import torch
    from transformers import AutoConfig, AutoModel

    _check_pooling(model_path)
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True,
                                      attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    ids = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(Pooled(model), (ids, ids, torch.zeros_like(ids)), str(raw),
                              input_names=list(_INPUTS), output_names=["sentence_embedding"],
                              dynamic_axes=axes | {"sentence_embedding": {0: "batch"}},
                              opset_version=17, dynamo=False)
        from onnxruntime.transformers.optimizer import optimize_model

        config = AutoConfig.from_pretrained(str(model_path), local_files_only=True)
        optimized = optimize_model(str(raw), model_type="bert",
                                   num_heads=int(config.num_attention_heads),
                                   hidden_size=int(config.hidden_size))
        optimized.save_model_to_file(str(target))


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 (QInt8 weights) of the fused float32 graph."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    ffn_out = [n.name for n in graph.node if n.op_type == "MatMul"
               and "/output/dense/" in n.name and "/attention/" not in n.name]
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True, op_types_to_quantize=["MatMul", "Attention"],
                     nodes_to_exclude=ffn_out,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def _atomic(target: Path, make: Any, *args: Any) -> None:
    """Build `target` through a temporary file in its folder, renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        make(*args, Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached_model(model_path: Path, cache_dir: Path, *, int8: bool) -> Path:
    """The cached ONNX file for these weights, exported (and quantized) on first use."""
    folder = cache_dir / f"{model_path.name}-{weights_hash(model_path)}-v{EXPORT_VERSION}"
    fp32 = folder / "model.onnx"
    if not fp32.is_file():
        _atomic(fp32, lambda out: export_onnx(model_path, out))
    if not int8:
        return fp32
    quantized = folder / "model-int8.onnx"
    if not quantized.is_file():
        _atomic(quantized, lambda out: quantize_int8(fp32, out))
    return quantized


def fast_tokenizer(model_path: Path, max_length: int) -> Any:
    """The model's tokenizer.json through `tokenizers` alone (the Rust tokenizer, without
    importing transformers and torch: seconds of a cold query), truncating to
    `max_length` tokens with the special tokens, unpadded: the ids
    `AutoTokenizer(..., truncation=True, max_length=max_length)` gives."""
    from tokenizers import Tokenizer

    file = model_path / "tokenizer.json"
    if not file.is_file():
        raise FileNotFoundError(f"the onnx embedder backends need {file} (a fast tokenizer)")
    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


class OnnxEncoder:
    """Tokenizer + ONNX Runtime session; encodes in length-sorted batches."""

    def __init__(self, model_path: Path, cache_dir: Path, *, int8: bool, threads: int | None,
                 max_seq_length: int | None, batch_size: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingDependencyError("the onnx embedder backends need onnxruntime: "
                                         "pip install onnxruntime onnx") from exc
        self.model_path = model_path
        self.path = cached_model(model_path, cache_dir, int8=int8)
        self.max_seq_length = max_seq_length or max_seq_length_of(model_path)
        self._fast = fast_tokenizer(model_path, self.max_seq_length)
        self._hf_tokenizer: Any = None
        self.batch_size = batch_size
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.path), options,
                                            providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer (for token counting; loads transformers)."""
        if self._hf_tokenizer is None:
            from transformers import AutoTokenizer

            self._hf_tokenizer = AutoTokenizer.from_pretrained(str(self.model_path),
                                                               local_files_only=True)
        return self._hf_tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        # sentence-transformers strips each text before tokenizing; so do we.
        ids = [e.ids for e in self._fast.encode_batch([str(t).strip() for t in texts])]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # length-sorted: less padding
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            width = max(len(ids[i]) for i in batch)
            input_ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros_like(input_ids)
            for row, i in enumerate(batch):
                input_ids[row, :len(ids[i])] = ids[i]
                mask[row, :len(ids[i])] = 1
            feed = {"input_ids": input_ids, "attention_mask": mask,
                    "token_type_ids": np.zeros_like(input_ids)}
            out[batch] = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return out
