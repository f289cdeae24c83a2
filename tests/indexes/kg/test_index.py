"""KnowledgeGraphIndex: protocol, search and trace, cache and import, delete, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexes.base import Chunk, Index, Retriever
from indexes.errors import EmbedderMismatchError, IndexFormatError
from indexes.kg import (
    KGSettings,
    KnowledgeGraphIndex,
    OpenIEResult,
    read_hipporag_openie,
)
from indexes.kg.openie import text_hash
from rag.storage.openie_cache import StoreOpenIECache
from rag.storage.store import Store
from tests.indexes.kg.fakes import FakeEmbedder, FakeOpenIE

DATA = Path(__file__).resolve().parents[2] / "data" / "kg"

CHUNKS = [
    Chunk(1, "Alice Smith | directed | Blue Harbor. Blue Harbor | released in | 1999",
          "Blue Harbor"),
    Chunk(2, "Alice Smith | born in | Oslo", "Alice Smith"),
    Chunk(3, "Oslo | capital of | Norway", "Oslo"),
    Chunk(4, "Carl Jones | born in | Lima", "Carl Jones"),
    Chunk(5, "Lima | capital of | Peru", "Lima"),
]


def make(**settings) -> tuple[KnowledgeGraphIndex, FakeOpenIE]:
    extractor = FakeOpenIE()
    index = KnowledgeGraphIndex(FakeEmbedder(), openie=extractor,
                                settings=KGSettings(synonymy_threshold=0.95, **settings))
    return index, extractor


@pytest.mark.unit
def test_constructor_is_cheap_and_follows_protocol() -> None:
    index, _ = make()
    assert isinstance(index, Retriever) and isinstance(index, Index)
    assert index.count() == 0 and index.search("anything", 3) == []
    assert index.stats()["nodes"] == 0
    with pytest.raises(ValueError):
        index.search("q", 0)
    with pytest.raises(ValueError):
        KGSettings(mode="magic")


@pytest.mark.unit
@pytest.mark.parametrize("mode", ["entity", "hipporag1", "hybrid"])
def test_multi_hop_walk_reaches_second_hop(mode: str) -> None:
    index, _ = make(mode=mode)
    index.add(CHUNKS)
    hits, trace = index.search_with_trace("Which country is the birthplace of Alice Smith in?", 3)
    ids = [h.chunk_id for h in hits]
    assert set(ids) == {1, 2, 3}
    assert trace["mode"] == mode and not trace["fallback_dense"]
    assert trace["seeds"][0]["phrase"] == "alice smith"
    assert all(h.source == "hipporag" for h in hits)


@pytest.mark.unit
def test_fact_mode_and_trace() -> None:
    index, _ = make(mode="hipporag2", top_facts=2)
    index.add(CHUNKS)
    hits, trace = index.search_with_trace("carl jones born in lima", 2)
    assert hits[0].chunk_id == 4
    assert trace["facts"][0]["triple"] == ["carl jones", "born in", "lima"]


@pytest.mark.unit
def test_no_seed_falls_back_to_dense() -> None:
    index, _ = make(mode="hipporag1", link_min_similarity=0.99)
    index.add(CHUNKS)
    hits, trace = index.search_with_trace("zzz qqq", 3)
    assert hits == [] and trace["fallback_dense"]


@pytest.mark.unit
def test_delete_cleans_up_orphans() -> None:
    index, _ = make()
    index.add(CHUNKS)
    before = index.stats()
    index.delete([4, 5])
    after = index.stats()
    assert index.count() == 3 and after["facts"] == before["facts"] - 2
    assert "carl jones" not in index.graph.phrase_id and "lima" not in index.graph.phrase_id
    assert all(h.chunk_id not in (4, 5) for h in index.search("Carl Jones Lima Peru", 5))


@pytest.mark.unit
def test_cache_avoids_second_extraction(tmp_path: Path) -> None:
    cache = StoreOpenIECache(Store(tmp_path / "kg.sqlite").connect())
    first, extractor = make()
    first.cache = cache
    first.add(CHUNKS)
    second, extractor2 = make()
    second.cache = cache
    second.add(CHUNKS)
    assert extractor.calls == 5 and extractor2.calls == 0


def indexed_with_imported_openie(tmp_path: Path):
    """An index over three chunks, two of them in the tiny HippoRAG OpenIE file (imported)."""
    cache = StoreOpenIECache(Store(tmp_path / "kg.sqlite").connect())
    cache.put_many(read_hipporag_openie(DATA / "hipporag_openie_tiny.json").items())
    index, extractor = make(prefer_sources=("import",))
    index.cache = cache
    index.add([Chunk(10, "Lake Ontario borders the province of Ontario and the state of "
                         "New York.", "Lake Ontario"),
               Chunk(11, "Toronto is the capital of Ontario.", "Toronto"),
               Chunk(12, "Lima | capital of | Peru", "Lima")])
    return index, extractor


@pytest.mark.unit
def test_imported_hipporag_openie_is_used(tmp_path: Path) -> None:
    index, extractor = indexed_with_imported_openie(tmp_path)
    assert extractor.calls == 1  # only the chunk the file lacks
    assert {"lake ontario", "new york", "toronto", "ontario", "peru"} <= set(
        index.graph.phrase_id)
    hits = index.search("What borders New York?", 1)
    assert hits[0].chunk_id == 10


@pytest.mark.unit
def test_save_load_round_trip(tmp_path: Path) -> None:
    index, _ = make()
    index.add(CHUNKS)
    index.delete([5])
    index.save(tmp_path)
    loaded, _ = make()
    loaded.load(tmp_path)
    assert loaded.stats() == index.stats()
    query = "Which country is the birthplace of Alice Smith in?"
    assert loaded.search(query, 4) == index.search(query, 4)
    loaded.add([Chunk(6, "Alice Smith | studied in | Bergen", "Bergen")])
    assert loaded.graph.knn_queries == index.graph.knn_queries + 1  # only "bergen" is new


@pytest.mark.unit
def test_load_rejects_mismatch_and_garbage(tmp_path: Path) -> None:
    index, _ = make()
    index.add(CHUNKS)
    index.save(tmp_path)
    other = KnowledgeGraphIndex(FakeEmbedder(), openie=FakeOpenIE())
    other.embedder.name = "other"
    with pytest.raises(EmbedderMismatchError):
        other.load(tmp_path)
    (tmp_path / "kg_passages.json").write_text("{broken")
    with pytest.raises(IndexFormatError):
        make()[0].load(tmp_path)
    (tmp_path / "kg.json").write_text('{"format_version": 99, "kind": "kg"}')
    with pytest.raises(IndexFormatError):
        make()[0].load(tmp_path)


@pytest.mark.integration
def test_real_models_small_corpus(embedder) -> None:
    from indexes.dense import DenseIndex

    chunks = [
        Chunk(1, "Blue Harbor is a 1999 film directed by Alice Smith.", "Blue Harbor"),
        Chunk(2, "Alice Smith was born in Oslo. She studied painting.", "Alice Smith"),
        Chunk(3, "Oslo is the capital of Norway.", "Oslo"),
        Chunk(4, "Carl Jones was born in Lima.", "Carl Jones"),
    ]
    dense = DenseIndex(embedder)
    dense.add(chunks)
    index = KnowledgeGraphIndex(embedder, dense=dense)
    index.load_models().add(chunks)
    hits, trace = index.search_with_trace("Where was the director of Blue Harbor born?", 2)
    assert {h.chunk_id for h in hits} == {1, 2}
    assert any(s["phrase"] == "blue harbor" for s in trace["seeds"])


@pytest.mark.unit
def test_title_match_seeds_the_titled_passage() -> None:
    query = "Which country is the birthplace of Alice Smith in?"
    plain, _ = make(title_seed_weight=0.0)
    plain.add(CHUNKS)
    titled, _ = make(title_seed_weight=1.0)
    titled.add(CHUNKS)
    assert plain.search(query, 1)[0].chunk_id == 1
    assert titled.search(query, 1)[0].chunk_id == 2  # the passage titled "Alice Smith"


@pytest.mark.unit
def test_auto_mode_follows_the_triples_sources(tmp_path: Path) -> None:
    offline, _ = make()
    offline.add(CHUNKS)
    assert offline.settings.mode == "auto" and offline.mode == "entity"
    assert offline.stats()["sources"] == {"fake": 5}
    assert offline.search_with_trace("Alice Smith", 1)[1]["mode"] == "entity"
    imported, _ = indexed_with_imported_openie(tmp_path)
    assert imported.stats()["sources"] == {"import": 2, "fake": 1}
    _, trace = imported.search_with_trace("What borders New York?", 1)
    assert trace["mode"] == "hybrid" and trace["mode_setting"] == "auto" and trace["facts"]
    imported.delete([10, 11])
    assert imported.mode == "entity"  # mostly offline triples again


@pytest.mark.unit
def test_outdated_passages_after_an_import(tmp_path: Path) -> None:
    cache = StoreOpenIECache(Store(tmp_path / "kg.sqlite").connect())
    index, _ = make(prefer_sources=("import",))
    index.cache = cache
    index.add(CHUNKS)
    assert index.outdated(CHUNKS) == []
    better = OpenIEResult.build(["Carl Jones", "Lima"], [("Carl Jones", "born in", "Lima")],
                                source="import", titles=["Carl Jones"])
    cache.put_many([(text_hash(CHUNKS[3].indexed_text), better)])
    assert index.outdated(CHUNKS) == [4]
    offline, _ = make(prefer_sources=())  # imported triples no longer taken
    offline.cache = cache
    offline.add_results([(4, better)])
    assert offline.outdated([CHUNKS[3]]) == [4]


@pytest.mark.unit
def test_personalization_and_pagerank_give_the_search_ranking() -> None:
    index, _ = make(max_hops=1)  # the first walk's restart vector
    index.add(CHUNKS)
    query = "Which country is the birthplace of Alice Smith in?"
    reset = index.personalization(query)
    _, _, passage_ids = index.graph.matrix()
    scores = index.pagerank(reset)[len(reset) - len(passage_ids):]
    ranked = [int(passage_ids[i]) for i in np.argsort(-scores, kind="stable")[:3]]
    assert ranked == [h.chunk_id for h in index.search(query, 3)]
    unseeded, _ = make(mode="hipporag1", link_min_similarity=0.99)
    unseeded.add(CHUNKS)
    assert unseeded.personalization("zzz qqq") is None  # search falls back to dense here


BRIDGE = [
    Chunk(1, "Blue Harbor | directed by | Alice Smith. Blue Harbor | filmed in | Spain",
          "Blue Harbor"),
    Chunk(2, "Alice Smith | born in | Oslo", "Alice Smith"),
    Chunk(3, "Mark Twain | praised | Blue Harbor", "Review of Blue Harbor"),
    Chunk(4, "Blue Harbor | won | Golden Bear", "Golden Bear"),
]


@pytest.mark.unit
def test_second_hop_seeds_the_bridge_entity_and_traces_it() -> None:
    query = "Where was the director of Blue Harbor born?"
    single, _ = make(max_hops=1)
    single.add(BRIDGE)
    hits, trace = single.search_with_trace(query, 2)
    assert [h.chunk_id for h in hits] == [1, 3] and len(trace["hops"]) == 1
    hopping, _ = make(max_hops=2)
    hopping.add(BRIDGE)
    hits, trace = hopping.search_with_trace(query, 2)
    assert [h.chunk_id for h in hits] == [1, 2]  # Alice Smith, named by passage 1
    first, second = trace["hops"]
    assert first["seeds"] == ["blue harbor"] and first["new"] == [1, 3]
    assert second["seeds"][0]["phrase"] == "alice smith" and second["seeds"][0]["from"] == 1
    assert second["new"] == [2]


@pytest.mark.unit
def test_hops_stop_when_nothing_new_is_named() -> None:
    index, _ = make(max_hops=3, hop_passages=4)
    index.add(BRIDGE)
    _, trace = index.search_with_trace("Where was the director of Blue Harbor born?", 4)
    assert len(trace["hops"]) == 1  # every bridge's passage is in the evidence already


@pytest.mark.unit
def test_title_alias_links_a_disambiguated_title() -> None:
    chunks = [Chunk(1, "Hank Snow | recorded | Duet Album", "Hello Love (song)"),
              Chunk(2, "Hank Snow | born in | Nova Scotia", "Hank Snow"),
              Chunk(3, "Ann Lee | covered | Hello Love", "Ann Lee")]
    query = "Who sang Hello Love?"
    plain, _ = make(title_aliases=False, max_hops=1)
    plain.add(chunks)
    aliased, _ = make(max_hops=1)
    aliased.add(chunks)
    assert "hello love" in aliased.graph.phrase_id
    assert 1 in {c for c in aliased.graph.passages if aliased.graph.phrase_id["hello love"]
                 in aliased.graph.passages[c].titles}
    assert plain.search(query, 1)[0].chunk_id != 1
    assert aliased.search(query, 1)[0].chunk_id == 1


COMPARE = [Chunk(1, "Red Sky | directed by | Ann Lee", "Red Sky"),
           Chunk(2, "Blue Harbor | directed by | Alice Smith", "Blue Harbor"),
           Chunk(3, "Ann Lee | born in | Lima", "Ann Lee"),
           Chunk(4, "Alice Smith | born in | Oslo", "Alice Smith"),
           Chunk(5, "Red Sky | won | Golden Bear. Blue Harbor | won | Golden Bear", "Golden Bear"),
           Chunk(6, "Blue Harbor | shown in | Cannes. Red Sky | shown in | Cannes", "Cannes")]


@pytest.mark.unit
def test_comparison_keeps_each_options_bridge_passage() -> None:
    # "the director who died later, A or B?" needs both films and both directors (issue 17)
    query = "Which film has the director who died later, Red Sky or Blue Harbor?"
    plain, _ = make(comparison_bridges=False, max_hops=1, evidence_window=4)
    plain.add(COMPARE)
    assert [h.chunk_id for h in plain.search(query, 4)] == [1, 2, 5, 6]
    bridged, _ = make(max_hops=1, evidence_window=4)
    bridged.add(COMPARE)
    hits, trace = bridged.search_with_trace(query, 4)
    assert [h.chunk_id for h in hits] == [1, 2, 3, 4]
    assert trace["comparison"]["bridges"] == [("ann lee", 3), ("alice smith", 4)]


@pytest.mark.unit
def test_a_hop_requeries_the_dense_index_with_its_bridges() -> None:
    from indexes.dense import DenseIndex

    query = "Where was the director of Blue Harbor born?"
    runs = {}
    for requery in (0.0, 2.0):
        embedder = FakeEmbedder()
        dense = DenseIndex(embedder)
        dense.add(BRIDGE)
        index = KnowledgeGraphIndex(embedder, dense=dense, openie=FakeOpenIE(),
                                    settings=KGSettings(synonymy_threshold=0.95,
                                                        hop_requery=requery))
        index.add(BRIDGE)
        embedder.encoded.clear()
        hits, trace = index.search_with_trace(query, 4)
        runs[requery] = ({h.chunk_id: h.score for h in hits}, trace, list(embedder.encoded))
    (off, off_trace, off_texts), (on, on_trace, on_texts) = runs[0.0], runs[2.0]
    requery = f"{query} alice smith"
    assert "requery" not in off_trace["hops"][1] and requery not in off_texts
    assert on_trace["hops"][1]["requery"] == requery
    assert on_texts == [*off_texts, requery]  # one more encode, for the hop
    assert on[2] > off[2]  # Alice Smith's passage gains from the requery's dense score
