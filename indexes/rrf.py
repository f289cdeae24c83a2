"""Reciprocal Rank Fusion (Cormack, Clarke & Büttcher, SIGIR 2009), weighted.

score(d) = sum over rankings r of  w_r / (k + rank_r(d)),  ranks starting at 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from indexes.base import Hit


def rrf_fuse(
    rankings: Sequence[Sequence[Hit]],
    *,
    k: int = 60,
    weights: Sequence[float] | None = None,
    limit: int | None = None,
    source: str = "rrf",
) -> list[Hit]:
    """Fuse ranked lists by weighted RRF.

    Args:
        rankings: ranked hit lists, best first; a chunk repeated within one list counts once
            (at its best rank).
        k: the RRF constant (60 in the paper).
        weights: one weight per ranking (default all 1.0).
        limit: keep at most this many fused hits.
        source: the `source` of the returned hits.

    Returns:
        Hits ordered by fused score, ties broken by chunk id for determinism.

    Raises:
        ValueError: on a negative k or a weights list of the wrong length.
    """
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k!r}")
    if weights is None:
        weights = [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[int] = set()
        for rank, hit in enumerate(ranking, start=1):
            if hit.chunk_id in seen:
                continue
            seen.add(hit.chunk_id)
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (k + rank)
    ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    if limit is not None:
        ordered = ordered[:limit]
    return [Hit(chunk_id, score, source) for chunk_id, score in ordered]
