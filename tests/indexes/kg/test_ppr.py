"""PPR on CSR against networkx.pagerank (the reference), on small random graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from indexes.kg.ppr import personalized_pagerank, transition_matrix

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("damping", [0.5, 0.85])
def test_matches_networkx(seed: int, damping: float) -> None:
    rng = np.random.default_rng(seed)
    graph = nx.gnp_random_graph(60, 0.06, seed=seed)
    graph.add_nodes_from(range(60, 63))  # isolated, dangling nodes
    for u, v in graph.edges:
        graph[u][v]["weight"] = float(rng.uniform(0.1, 3.0))
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=range(63), weight="weight")
    reset = np.zeros(63)
    reset[rng.choice(63, 4, replace=False)] = rng.uniform(0.1, 1.0, 4)
    transition_t, dangling = transition_matrix(adjacency)
    ours = personalized_pagerank(transition_t, dangling, reset, damping=damping, tol=1e-10,
                                 max_iter=500)
    ref = nx.pagerank(graph, alpha=damping, weight="weight", tol=1e-10, max_iter=500,
                      personalization={i: float(w) for i, w in enumerate(reset) if w > 0})
    ref_arr = np.array([ref[i] for i in range(63)])
    np.testing.assert_allclose(ours, ref_arr, atol=1e-8)
    assert list(np.argsort(-ours, kind="stable")[:10]) == list(
        np.argsort(-ref_arr, kind="stable")[:10])


def test_directed_rows_and_sum() -> None:
    adjacency = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=float))
    transition_t, dangling = transition_matrix(adjacency)
    assert dangling.tolist() == [False, False, True]
    scores = personalized_pagerank(transition_t, dangling, np.array([1.0, 0, 0]))
    assert scores.sum() == pytest.approx(1.0)
    assert scores[0] > scores[1] > 0


@pytest.mark.parametrize("bad", [np.zeros(3), np.array([1.0, -1.0, 1.0]), np.ones(2)])
def test_rejects_bad_personalization(bad: np.ndarray) -> None:
    transition_t, dangling = transition_matrix(sp.identity(3, format="csr"))
    with pytest.raises(ValueError):
        personalized_pagerank(transition_t, dangling, bad)


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError):
        transition_matrix(sp.csr_matrix(np.ones((2, 3))))
    with pytest.raises(ValueError):
        transition_matrix(sp.csr_matrix(-np.ones((2, 2))))
    transition_t, dangling = transition_matrix(sp.identity(2, format="csr"))
    with pytest.raises(ValueError):
        personalized_pagerank(transition_t, dangling, np.ones(2), damping=1.0)
