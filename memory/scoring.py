"""Pure functions that turn representative-vector and lexical scores into a block ranking."""

from __future__ import annotations

import numpy as np

FUSION_METHODS = ("rrf", "sum")


def block_max(rep_blocks: np.ndarray, rep_scores: np.ndarray, n_blocks: int) -> np.ndarray:
    """Best representative score per block (`-inf` for blocks with no scored representative).

    Args:
        rep_blocks: Block position of each scored representative.
        rep_scores: Cosine of each scored representative with the query.
        n_blocks: Number of blocks.

    Returns:
        A float32 array of length `n_blocks`.
    """
    out = np.full(n_blocks, -np.inf, dtype=np.float32)
    np.maximum.at(out, rep_blocks, rep_scores.astype(np.float32))
    return out


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each entry (best = 1); entries at -inf or <= 0 lexical get no rank."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def fuse(
    dense: np.ndarray,
    lexical: np.ndarray,
    *,
    method: str = "sum",
    lexical_weight: float = 1.0,
    rrf_k: int = 60,
) -> np.ndarray:
    """Combine per-block dense and lexical scores into one score per block.

    `sum` (the default) adds the dense cosine and the lexical score divided by its
    maximum, so an exact key match (lexical 1.0) outweighs any cosine gap; `rrf` is
    reciprocal rank fusion (Cormack et al., 2009). Measured on LongEval 1000 lines (10
    cases, 1024-token budget): sum 100% vs rrf 50% of gold lines in context (every block
    shares the query's generic terms, so RRF lets a dense near-miss outrank the exact
    key); both 100% on kv-retrieval-140.

    Args:
        dense: Best representative cosine per block (`-inf` where unscored).
        lexical: BM25 score per block (0 where no term matched).
        method: `"rrf"` or `"sum"`.
        lexical_weight: Weight of the lexical channel.
        rrf_k: RRF's rank offset.

    Returns:
        A float64 score per block; higher is better.

    Raises:
        ValueError: on an unknown method or mismatched lengths.
    """
    if method not in FUSION_METHODS:
        raise ValueError(f"method must be one of {FUSION_METHODS}, got {method!r}")
    if dense.shape != lexical.shape:
        raise ValueError(f"score arrays differ in shape: {dense.shape} vs {lexical.shape}")
    if method == "sum":
        top = float(lexical.max()) if lexical.size else 0.0
        lex = lexical / top if top > 0 else np.zeros_like(lexical)
        base = np.where(np.isfinite(dense), dense, -1.0)
        return base.astype(np.float64) + lexical_weight * lex
    fused = np.zeros(len(dense), dtype=np.float64)
    has_dense = np.isfinite(dense)
    fused[has_dense] += 1.0 / (rrf_k + _ranks(np.where(has_dense, dense, -np.inf))[has_dense])
    has_lex = lexical > 0
    fused[has_lex] += lexical_weight / (rrf_k + _ranks(lexical)[has_lex])
    return fused


def top_blocks(scores: np.ndarray, k: int, *, exclude: np.ndarray | None = None) -> list[int]:
    """Positions of the `k` best blocks, best first, skipping `exclude` (a boolean mask)."""
    if k <= 0 or scores.size == 0:
        return []
    masked = scores.astype(np.float64, copy=True)
    if exclude is not None:
        masked[exclude] = -np.inf
    k = min(k, int(np.isfinite(masked).sum()))
    if k == 0:
        return []
    part = np.argpartition(-masked, k - 1)[:k]
    return [int(i) for i in part[np.argsort(-masked[part], kind="stable")]]
