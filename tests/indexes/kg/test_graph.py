"""Graph bookkeeping: synonymy for new phrases only, delete cleanup, matrix and export."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.kg.graph import KnowledgeGraph
from indexes.kg.openie import OpenIEResult
from tests.indexes.kg.fakes import DIM, FakeEmbedder

pytestmark = pytest.mark.unit


def result(triples, title="", entities=()):
    return OpenIEResult.build(entities, triples, source="t", titles=[title] if title else [])


def make_graph(threshold: float = 0.8) -> tuple[KnowledgeGraph, FakeEmbedder]:
    return KnowledgeGraph(DIM, synonymy_threshold=threshold), FakeEmbedder()


def test_add_builds_nodes_edges_and_specificity() -> None:
    graph, emb = make_graph()
    graph.add_passages([(1, result([("Alice", "knows", "Bob")], title="Alice")),
                        (2, result([("Bob", "lives in", "Paris")]))], emb.encode)
    assert set(graph.phrase_id) == {"alice", "bob", "paris"}
    assert graph.specificity(graph.phrase_id["bob"]) == pytest.approx(0.5)
    assert graph.specificity(graph.phrase_id["paris"]) == pytest.approx(1.0)
    adjacency, row_of, passage_ids = graph.matrix()
    assert adjacency.shape == (5, 5)
    assert (adjacency != adjacency.T).nnz == 0
    assert adjacency.nnz // 2 == 2 + 4  # two relation edges, four context edges
    assert sorted(passage_ids.tolist()) == [1, 2]
    assert row_of[graph.phrase_id["paris"]] >= 0
    assert len(graph.fact_id) == 2


def test_synonymy_only_for_new_phrases() -> None:
    graph, emb = make_graph(threshold=0.6)
    graph.add_passages([(1, result([("new york city", "in", "usa")]))], emb.encode)
    assert graph.knn_queries == 2
    graph.add_passages([(2, result([("new york", "in", "united states")]))], emb.encode)
    # only the two new phrases were searched, not the old ones again
    assert graph.knn_queries == 4
    a, b = graph.phrase_id["new york city"], graph.phrase_id["new york"]
    assert b in graph.synonyms[a] and a in graph.synonyms[b]
    assert graph.synonymy_edge_count() >= 1
    graph.add_passages([(3, result([("new york", "in", "usa")]))], emb.encode)
    assert graph.knn_queries == 4  # nothing new, no search


def test_delete_removes_orphans_only() -> None:
    graph, emb = make_graph(threshold=0.6)
    graph.add_passages([(1, result([("new york city", "in", "usa")])),
                        (2, result([("new york", "in", "usa")], title="NY"))], emb.encode)
    graph.delete_passages([2, 99])
    assert set(graph.phrase_id) == {"new york city", "usa"}
    assert graph.synonymy_edge_count() == 0
    assert len(graph.relations) == 1 and len(graph.fact_id) == 1
    assert not graph.phrase_vecs.alive[[2, 3]].any() if len(graph.phrase_vecs.alive) > 3 else True
    adjacency, _, passage_ids = graph.matrix()
    assert passage_ids.tolist() == [1] and adjacency.shape == (3, 3)
    graph.delete_passages([1])
    assert not graph.phrase_id and not graph.relations and not graph.fact_id
    assert graph._phrase_faiss().ntotal == 0


def test_readd_replaces_passage() -> None:
    graph, emb = make_graph()
    graph.add_passages([(1, result([("a b", "r", "c d")]))], emb.encode)
    graph.add_passages([(1, result([("e f", "r", "g h")]))], emb.encode)
    assert set(graph.phrase_id) == {"e f", "g h"} and len(graph.passages) == 1


def test_networkx_export_matches_matrix() -> None:
    graph, emb = make_graph(threshold=0.6)
    graph.add_passages([(1, result([("new york city", "in", "usa")], title="NYC")),
                        (2, result([("new york", "in", "usa")]))], emb.encode)
    nxg = graph.to_networkx()
    adjacency, _, _ = graph.matrix()
    assert nxg.number_of_nodes() == adjacency.shape[0]
    assert nxg.number_of_edges() == adjacency.nnz // 2
    assert nxg.nodes["passage:1"]["kind"] == "passage"
    total = sum(w for _, _, w in nxg.edges(data="weight"))
    assert total == pytest.approx(adjacency.sum() / 2)


def test_rejects_bad_threshold() -> None:
    with pytest.raises(ValueError):
        KnowledgeGraph(DIM, synonymy_threshold=0.0)


def test_vectors_are_unit_rows() -> None:
    graph, emb = make_graph()
    graph.add_passages([(1, result([("x y", "r", "z")]))], emb.encode)
    norms = np.linalg.norm(graph.phrase_vecs.vectors, axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
