"""The embedder's GPU stream path: tokenize the next window while the GPU encodes this one.

eval/gpu/bench_gpu.py measured it on an H100 at 6.4x sentence-transformers' `encode`
(32,983 vs 5,146 passages/s, fp16, same run): sentence-transformers tokenizes each batch on
the critical path and pads it to its longest member. Here a producer thread tokenizes a
window of texts (the Rust tokenizer releases the GIL), sorts it by length, pads each batch
to its own longest member into pinned host memory, and queues it; the consumer copies the
next batch to the GPU on a side stream while the current one computes (fp16 weights), then
mean-pools and L2-normalizes, as the model's modules.json declares (Transformer,
Pooling(mean), Normalize). On a CPU the same code runs with float32 weights, no pinning
and no streams, which is how its tests check it against sentence-transformers' vectors.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_STREAM_MODULES = ["Transformer", "Pooling", "Normalize"]


def stream_compatible(model_path: Path) -> bool:
    """True when the folder's pipeline is what the stream path computes: a transformer,
    mean pooling, L2 normalisation (anything else keeps sentence-transformers' encode)."""
    try:
        modules = json.loads((model_path / "modules.json").read_text(encoding="utf-8"))
        kinds = [str(m["type"]).rsplit(".", 1)[-1] for m in modules]
        pooling_dir = next(m["path"] for m in modules if str(m["type"]).endswith("Pooling"))
        pooling = json.loads((model_path / pooling_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return False
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
    return kinds == _STREAM_MODULES and modes == ["pooling_mode_mean_tokens"]


def windows(n: int, size: int) -> list[range]:
    """Consecutive index ranges of at most `size` covering 0..n."""
    if size < 1:
        raise ValueError(f"window must be >= 1, got {size!r}")
    return [range(first, min(n, first + size)) for first in range(0, n, size)]


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Positions in batches of `batch_size`, longest first (stable among equal lengths): each
    batch pads to its own longest member, and peak memory comes with the first batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def pad_block(rows: Sequence[Sequence[int]], positions: Sequence[int], pad_id: int) -> np.ndarray:
    """The rows at `positions` as one int64 block, right-padded with `pad_id` to the longest."""
    width = max(len(rows[p]) for p in positions)
    block = np.full((len(positions), width), pad_id, dtype=np.int64)
    for r, p in enumerate(positions):
        block[r, :len(rows[p])] = rows[p]
    return block


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of the token vectors under the attention mask, L2-normalized (float32)."""
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(pooled.float(), p=2, dim=1)


_DONE = object()


class StreamEncoder:
    """Length-sorted, windowed, overlapped encoding with a Hugging Face encoder model.

    `transformer` is the model under sentence-transformers' Transformer module (its
    `auto_model`, shared, not copied); on CUDA it is cast to fp16 once (the vectors agree
    with fp32 to cosine 0.999+, so the embedder keeps its name).
    """

    def __init__(self, transformer: Any, tokenizer: Any, *, device: str, max_seq_length: int,
                 batch_size: int = 1024, window: int = 16384, fp16: bool | None = None,
                 queue_size: int = 8) -> None:
        import torch

        if batch_size < 1 or window < 1 or queue_size < 1:
            raise ValueError("batch_size, window and queue_size must be >= 1")
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.fp16 = self.cuda if fp16 is None else fp16
        self.model = transformer.to(self.device, dtype=torch.float16 if self.fp16 else None).eval()
        self.tokenizer = tokenizer
        self.pad_id = int(tokenizer.pad_token_id or 0)
        self.max_seq_length = max_seq_length
        self.batch_size, self.window, self.queue_size = batch_size, window, queue_size
        self._copy_stream = torch.cuda.Stream(self.device) if self.cuda else None

    def _produce(self, texts: Sequence[str], out: queue.Queue) -> None:
        """Producer thread: (positions, host block) per batch, window by window; then _DONE
        (or the exception that stopped it, re-raised by the consumer)."""
        import torch

        try:
            for span in windows(len(texts), self.window):
                # sentence-transformers strips each text before tokenizing; so do we
                rows = self.tokenizer([str(texts[i]).strip() for i in span], truncation=True,
                                      max_length=self.max_seq_length)["input_ids"]
                for positions in length_sorted_batches([len(r) for r in rows], self.batch_size):
                    block = torch.from_numpy(pad_block(rows, positions, self.pad_id))
                    out.put((positions + span.start, block.pin_memory() if self.cuda else block))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, not swallowed
            out.put(exc)
            return
        out.put(_DONE)

    def _batches(self, feed: queue.Queue) -> Iterator[tuple[np.ndarray, Any]]:
        while (item := feed.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _upload(self, block: Any) -> tuple[Any, Any]:
        """Start the host-to-device copy of `block`; on CUDA on the side stream, so it
        overlaps the current batch's compute (an event marks when it is done)."""
        import torch

        if not self.cuda:
            return block, None
        with torch.cuda.stream(self._copy_stream):
            on_device = block.to(self.device, non_blocking=True)
            done = torch.cuda.Event()
            done.record(self._copy_stream)
        return on_device, done

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 unit vectors, in the order of `texts`."""
        import torch

        dim = int(self.model.config.hidden_size)
        if len(texts) == 0:
            return np.zeros((0, dim), dtype=np.float32)
        result = torch.empty((len(texts), dim), dtype=torch.float32, device=self.device)
        feed: queue.Queue = queue.Queue(maxsize=self.queue_size)
        producer = threading.Thread(target=self._produce, args=(texts, feed), daemon=True)
        producer.start()
        compute = torch.cuda.current_stream(self.device) if self.cuda else None
        try:
            with torch.inference_mode():
                batches = self._batches(feed)
                staged = next(batches, None)
                pending = (staged[0], *self._upload(staged[1])) if staged else None
                while pending is not None:
                    positions, input_ids, copied = pending
                    if copied is not None:
                        compute.wait_event(copied)
                        input_ids.record_stream(compute)  # the allocator waits for compute
                    following = next(batches, None)  # upload batch n+1 while n computes
                    pending = (following[0], *self._upload(following[1])) if following else None
                    mask = input_ids != self.pad_id
                    hidden = self.model(input_ids=input_ids, attention_mask=mask.long(),
                                        token_type_ids=torch.zeros_like(input_ids))[0]
                    index = torch.from_numpy(positions).to(self.device)
                    result[index] = mean_pool(hidden, mask)
        finally:
            while producer.is_alive():  # drain so a failed consumer never blocks the producer
                try:
                    feed.get(timeout=0.1)
                except queue.Empty:
                    pass
            producer.join()
        return np.ascontiguousarray(result.cpu().numpy(), dtype=np.float32)
