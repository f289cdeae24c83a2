"""Turn segmented blocks into stored rows and representative vectors (one encode call)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from memory.blocks import Block, salient_spans
from memory.encoding import TextEncoder, encode_unique
from memory.rows import BlockRow, RepRow


@dataclass(frozen=True)
class BuiltBlocks:
    """Rows to store and vectors to index for a batch of new blocks."""

    blocks: list[BlockRow]
    reps: list[RepRow]
    vectors: np.ndarray

    def rep_ids(self, stride: int) -> np.ndarray:
        """FAISS ids of the representatives: `block_id * stride + j`."""
        return np.asarray([r.block_id * stride + r.j for r in self.reps], dtype=np.int64)


def mean_vector(vectors: np.ndarray) -> np.ndarray:
    """The unit-normalised mean of unit vectors (a block's summary representative)."""
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm > 0 else mean).astype(np.float32)


def _block_reps(
    block_id: int, block: Block, spans: list[tuple[int, int]], span_vecs: np.ndarray, reps: int
) -> list[RepRow]:
    """A block's span representatives plus their mean (only the mean when `reps == 1`)."""
    chosen = [] if reps == 1 else list(zip(spans, span_vecs, strict=True))
    if reps == 1 or len(spans) > 1:
        chosen.append(((block.start, block.start), mean_vector(span_vecs)))
    return [RepRow(block_id, j, s, e, vec) for j, ((s, e), vec) in enumerate(chosen)]


def build_blocks(
    text: str,
    blocks: Sequence[Block],
    *,
    source: str,
    first_id: int,
    encoder: TextEncoder,
    idf: Callable[[Sequence[str]], Sequence[float]],
    reps: int,
    max_span_chars: int = 200,
) -> BuiltBlocks:
    """Choose and embed every block's representatives.

    Each block gets up to `reps - 1` salient spans, all embedded in one batched call
    (repeated span texts once), plus the mean of its span vectors, which costs no
    encoding. With `reps == 1` only the mean is kept.

    Args:
        text: The source text.
        blocks: Its blocks, in order.
        source: Provenance stored with each block.
        first_id: Block id of the first block.
        encoder: Embeds span texts.
        idf: Term IDF lookup used to rank spans by salience.
        reps: Representatives per block (r).
        max_span_chars: Longest span embedded.

    Returns:
        The block rows, representative rows and an (n_reps, dim) vector array.
    """
    n_spans = max(1, reps - 1)
    spans_per_block: list[list[tuple[int, int]]] = []
    for block in blocks:
        spans = salient_spans(text, block, idf, n_spans=n_spans, max_chars=max_span_chars)
        spans_per_block.append(spans or [(block.start, min(block.end, block.start + max_span_chars))])
    flat = [text[s:e] for spans in spans_per_block for s, e in spans]
    vectors = encode_unique(encoder, flat)
    rows, rep_rows, cursor = [], [], 0
    for i, (block, spans) in enumerate(zip(blocks, spans_per_block, strict=True)):
        block_id = first_id + i
        rows.append(
            BlockRow(block_id, source, block.start, block.end, block.n_tokens, text[block.start : block.end])
        )
        rep_rows.extend(_block_reps(block_id, block, spans, vectors[cursor : cursor + len(spans)], reps))
        cursor += len(spans)
    out = [r.vector for r in rep_rows]
    dim = vectors.shape[1] if vectors.ndim == 2 else encoder.dim
    matrix = np.vstack(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)
    return BuiltBlocks(blocks=rows, reps=rep_rows, vectors=matrix)
