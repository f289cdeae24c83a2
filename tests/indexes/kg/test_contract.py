"""KnowledgeGraphIndex under the index contract (tests/indexes/contract.py), with the real
spaCy OpenIE and MiniLM.

The contract's own corpus has almost no named entities, and a graph ranks only what its
question entities link to, so this backend brings an entity-rich corpus of the same shape
(five separate topics, one query each). The index runs standalone: no dense index, hence
no dense prior and no dense fallback (in a collection it shares the dense index).
"""

from __future__ import annotations

import pytest

import tests.indexes.test_dense as dense_tests
from indexes.base import Chunk
from indexes.kg import KnowledgeGraphIndex, SpacyOpenIE
from tests.indexes.contract import IndexContract

pytestmark = pytest.mark.integration

CORPUS: tuple[Chunk, ...] = (
    Chunk(11, "Marie Curie discovered polonium and radium in Paris with Pierre Curie.",
          "Marie Curie"),
    Chunk(23, "The Eiffel Tower was designed by Gustave Eiffel and stands in Paris.",
          "Eiffel Tower"),
    Chunk(37, "Mount Etna is an active volcano on the island of Sicily in Italy.", "Mount Etna"),
    Chunk(42, "Antonio Stradivari made violins in Cremona during the seventeenth century.",
          "Antonio Stradivari"),
    Chunk(58, "The Great Barrier Reef lies off the coast of Queensland in Australia.",
          "Great Barrier Reef"),
)

QUERIES: dict[str, int] = {
    "What did Marie Curie discover?": 11,
    "Who designed the Eiffel Tower?": 23,
    "On which island is Mount Etna?": 37,
    "Where did Antonio Stradivari make violins?": 42,
    "Off which coast does the Great Barrier Reef lie?": 58,
}


@pytest.fixture(scope="module")
def spacy_openie() -> SpacyOpenIE:
    return SpacyOpenIE().load()


@pytest.fixture(scope="module")
def memo_embedder(embedder) -> dense_tests.MemoEmbedder:
    return dense_tests.MemoEmbedder(embedder)


class TestKnowledgeGraphContract(IndexContract):
    CORPUS = CORPUS
    QUERIES = QUERIES

    @pytest.fixture
    def make_index(self, memo_embedder, spacy_openie):
        return lambda: KnowledgeGraphIndex(memo_embedder, openie=spacy_openie)
