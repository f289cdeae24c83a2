"""RAG-Fusion: RRF over variants, RM3 terms, bridge queries, the offline/LLM switch.

No model is loaded: indexes are fakes that rank chunks by shared words, and the LLM is a
test double (no generator is configured by default; real ones come in a later issue).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from indexes.base import Hit
from indexes.tokenize import BM25Tokenizer
from rag.retrieval.context import RetrievalContext
from rag.retrieval.fusion import FusionRetriever, fuse_rankings, index_weights
from rag.retrieval.query_variants import (
    VariantGenerationError,
    bridge_entities,
    bridge_query,
    extract_entities,
    llm_variants,
    rm3_terms,
)
from rag.settings import FusionSettings

pytestmark = pytest.mark.unit

CORPUS = {
    1: ("Polish-Russian War (film)", "Polish-Russian War is a 2009 Polish film directed by "
                                     "Xawery Żuławski based on a novel by Dorota Masłowska."),
    2: ("Xawery Żuławski", "Xawery Żuławski is a Polish film director. His mother is "
                           "Małgorzata Braunek, an actress."),
    3: ("Małgorzata Braunek", "Małgorzata Braunek was a Polish actress born in Szamotuły."),
    4: ("Warsaw", "Warsaw is the capital of Poland."),
}


@dataclass
class Row:
    """A stored chunk as `Store.get_chunks` returns it (the fields retrieval reads)."""

    title: str
    text: str


def texts(ids):
    """A `ChunkTexts` over CORPUS."""
    return {i: Row(*CORPUS[i]) for i in ids if i in CORPUS}


class WordIndex:
    """Ranks CORPUS chunks by the number of query words they share (a fake index)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.queries: list[str] = []
        self.tokenizer = BM25Tokenizer()

    def search(self, query: str, k: int) -> list[Hit]:
        self.queries.append(query)
        words = set(self.tokenizer(query))
        scored = [(len(words & set(self.tokenizer(f"{t} {x}"))), cid)
                  for cid, (t, x) in CORPUS.items()]
        ranked = sorted((s, -c) for s, c in scored if s > 0)[::-1]
        return [Hit(-c, float(s), self.name) for s, c in ranked[:k]]


class VariantsDouble:
    """Test double for an LLM with JSON output (`JSONGenerator`); records its prompts."""

    def __init__(self, reply: object) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def generate_json(self, prompt: str, schema: dict) -> dict:
        self.prompts.append(prompt)
        return self.reply  # type: ignore[return-value]


def test_fuse_rankings_matches_hand_computed_weighted_rrf():
    a = [Hit(1, 9, "x"), Hit(2, 8, "x")]
    b = [Hit(2, 5, "y"), Hit(3, 4, "y")]
    fused = fuse_rankings([(1.0, a), (0.5, b)], k=60, limit=None, source="fusion")
    expected = {1: 1 / 61, 2: 1 / 62 + 0.5 / 61, 3: 0.5 / 62}
    assert [h.chunk_id for h in fused] == [2, 1, 3]
    for hit in fused:
        assert hit.score == pytest.approx(expected[hit.chunk_id])
        assert hit.source == "fusion"


def test_index_weights_skip_absent_indexes_and_need_one():
    assert index_weights({"bm25": 1, "dense": 1}, {"bm25": 1.0, "dense": 2.0, "hipporag": 1.0}) == {
        "bm25": 1.0, "dense": 2.0}
    with pytest.raises(ValueError, match="none of the indexes"):
        index_weights({"bm25": 1}, {"dense": 1.0})


def test_rm3_terms_hand_computed():
    docs = [["a", "b", "b", "q"], ["b", "c"]]
    terms = rm3_terms(["q"], docs, [3.0, 1.0], n_terms=3)
    # P(b|R) = 0.75 * 2/4 + 0.25 * 1/2 = 0.5; a = 0.75 / 4; c = 0.25 / 2
    assert terms == [("b", pytest.approx(0.5)), ("a", pytest.approx(0.1875)),
                     ("c", pytest.approx(0.125))]
    assert rm3_terms(["q"], docs, [3.0, 1.0], n_terms=3, min_docs=2) == [("b", pytest.approx(0.5))]
    with pytest.raises(ValueError):
        rm3_terms([], docs, [1.0], n_terms=2)


def test_entities_and_bridge_query():
    text = CORPUS[1][1]
    assert "Xawery Żuławski" in extract_entities(text)
    assert "Dorota Masłowska" in extract_entities(text)
    tok = BM25Tokenizer()
    question = "Who is the mother of the director of film Polish-Russian War?"
    found = [e for e, _ in bridge_entities(question, [CORPUS[1]], limit=3, tokenizer=tok)]
    assert "Xawery Żuławski" in found and "Polish-Russian War" not in found
    query = bridge_query("Xawery Żuławski", question, text, tok)
    assert query.startswith("Xawery Żuławski") and "mother" in query and "War" not in query


def test_fusion_offline_has_original_prf_and_bridge_variants():
    indexes = {"bm25": WordIndex("bm25"), "dense": WordIndex("dense")}
    retriever = FusionRetriever(indexes, FusionSettings(prf_docs=2, bridge_entities=2),
                                context=RetrievalContext(texts=texts))
    result = retriever.retrieve("Who is the mother of the director of Polish-Russian War?", 3)
    kinds = [v["kind"] for v in result.trace["variants"]]
    assert kinds[0] == "original" and "prf" in kinds and "bridge" in kinds
    assert result.trace["variant_source"] == "offline"
    assert result.trace["indexes"] == {"bm25": 1.0, "dense": 1.0}
    assert {h.chunk_id for h in result.hits} >= {1, 2}
    # every variant went to every index
    assert len(indexes["bm25"].queries) == len(kinds) == len(indexes["dense"].queries)


def test_fusion_without_texts_runs_the_original_query_only():
    retriever = FusionRetriever({"bm25": WordIndex("bm25")}, FusionSettings())
    result = retriever.retrieve("Polish film director", 2)
    assert [v["kind"] for v in result.trace["variants"]] == ["original"]
    assert result.trace["texts"] is False


def test_fusion_uses_hipporag_when_present():
    indexes = {"bm25": WordIndex("bm25"), "hipporag": WordIndex("hipporag")}
    retriever = FusionRetriever(indexes, FusionSettings(hops=0, prf_terms=0))
    retriever.retrieve("Warsaw capital", 2)
    assert indexes["hipporag"].queries == ["Warsaw capital"]


def test_llm_switch_uses_the_injected_generator_double():
    double = VariantsDouble({"queries": ["director of Polish-Russian War", "Żuławski mother"]})
    indexes = {"bm25": WordIndex("bm25")}
    context = RetrievalContext(texts=texts, generator=double)
    retriever = FusionRetriever(indexes, FusionSettings(variants=4), context=context)
    result = retriever.retrieve("Who is the mother of the director of Polish-Russian War?", 3)
    assert result.trace["variant_source"] == "llm"
    kinds = [v["kind"] for v in result.trace["variants"]]
    assert kinds[:3] == ["original", "llm", "llm"] and "prf" not in kinds
    assert "4 different search queries" in double.prompts[0]
    forced = FusionRetriever(indexes, FusionSettings(source="offline"), context=context)
    assert forced.retrieve("Warsaw", 2).trace["variant_source"] == "offline"


def test_llm_variants_validate_the_reply():
    assert llm_variants(VariantsDouble({"queries": ["a", "a", " b ", "q"]}), "q", 4) == ["a", "b"]
    with pytest.raises(VariantGenerationError):
        llm_variants(VariantsDouble({"answer": "x"}), "q", 4)
    with pytest.raises(VariantGenerationError):
        llm_variants(VariantsDouble({"queries": [1, 2]}), "q", 4)


def test_fusion_rejects_bad_hops():
    with pytest.raises(ValueError, match="hops"):
        FusionRetriever({"bm25": WordIndex("bm25")}, FusionSettings(), hops=3)


def test_a_failing_llm_runs_the_offline_variants_and_says_why():
    double = VariantsDouble({"answer": "not a list of queries"})
    context = RetrievalContext(texts=texts, generator=double)
    retriever = FusionRetriever({"bm25": WordIndex("bm25")}, FusionSettings(hops=1), context=context)
    result = retriever.retrieve("Who is the mother of the director of Polish-Russian War?", 3)
    assert result.trace["path"] == result.trace["variant_source"] == "offline"
    assert "VariantGenerationError" in result.trace["llm_error"] and double.prompts
    assert "prf" in [v["kind"] for v in result.trace["variants"]]
