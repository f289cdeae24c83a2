"""Personalized PageRank by power iteration on a scipy CSR matrix.

HippoRAG (Gutiérrez et al. 2024) and HippoRAG 2 (Gutiérrez et al. 2025) rank passages by
running PPR from seed phrase nodes with damping 0.5. This module is pure: arrays in,
arrays out. Its semantics match `networkx.pagerank(G, alpha=damping, personalization=p,
weight="weight")`: rows are normalized by out-weight and a dangling node's mass goes back
to the personalization vector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy loads on the first graph walk, not with indexes.kg (issue 19.7)
    import scipy.sparse as sp


def transition_matrix(adjacency: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Row-stochastic transition matrix, transposed for `P.T @ x`, and the dangling mask.

    Args:
        adjacency: (n, n) non-negative weights; row i holds the out-edges of node i
            (symmetric for an undirected graph).

    Returns:
        `(PT, dangling)`: the CSR transpose of the row-normalized matrix and a boolean
        mask of nodes without out-weight.

    Raises:
        ValueError: on a non-square matrix or negative weights.
    """
    import scipy.sparse as sp

    matrix = sp.csr_matrix(adjacency, dtype=np.float64)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {matrix.shape}")
    if matrix.nnz and matrix.data.min() < 0:
        raise ValueError("adjacency weights must be non-negative")
    out_weight = np.asarray(matrix.sum(axis=1)).ravel()
    dangling = out_weight == 0
    inverse = np.zeros_like(out_weight)
    inverse[~dangling] = 1.0 / out_weight[~dangling]
    stochastic = sp.diags(inverse) @ matrix
    return sp.csr_matrix(stochastic.T), dangling


def personalized_pagerank(
    transition_t: sp.csr_matrix,
    dangling: np.ndarray,
    personalization: np.ndarray,
    *,
    damping: float = 0.5,
    tol: float = 1e-6,
    max_iter: int = 100,
) -> np.ndarray:
    """Stationary distribution of the walk that restarts at `personalization`.

    Args:
        transition_t: `PT` from `transition_matrix`.
        dangling: the dangling mask from `transition_matrix`.
        personalization: (n,) non-negative restart weights (normalized here).
        damping: probability of following an edge (HippoRAG uses 0.5).
        tol: stop when the L1 change is below `n * tol` (networkx's rule).
        max_iter: iteration cap; the last iterate is returned if it is reached.

    Returns:
        (n,) scores summing to 1.

    Raises:
        ValueError: on a wrong shape, a zero or negative personalization, or a damping
            outside [0, 1).
    """
    n = transition_t.shape[0]
    p = np.asarray(personalization, dtype=np.float64).ravel()
    if p.shape != (n,):
        raise ValueError(f"personalization has shape {p.shape}, expected ({n},)")
    if not 0 <= damping < 1:
        raise ValueError(f"damping must be in [0, 1), got {damping!r}")
    total = p.sum()
    if p.min(initial=0.0) < 0 or total <= 0:
        raise ValueError("personalization must be non-negative with a positive sum")
    p = p / total
    x = p.copy()
    for _ in range(max_iter):
        previous = x
        x = damping * (transition_t @ previous + previous[dangling].sum() * p) + (1 - damping) * p
        if np.abs(x - previous).sum() < n * tol:
            break
    return x
