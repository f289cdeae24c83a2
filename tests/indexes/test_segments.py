"""Segments: BM25 with index-wide statistics equals one BM25Index (and bm25s), ANN recall,
tombstones, merges, files written once and opened by size, and the tiered merge policy."""

from __future__ import annotations

import numpy as np
import pytest

from indexes.base import Chunk
from indexes.bm25 import BM25Index
from indexes.errors import IndexFormatError
from indexes.merge_policy import MergePolicy, plan_merge, tier
from indexes.segment import AnnParams, build_segment, merge_segments
from indexes.segment_files import open_segment, verify_files, write_segment
from indexes.segmented import SegmentedBM25, SegmentedDense, SegmentSet
from indexes.tokenize import BM25Tokenizer
from tests.indexes.test_bm25 import REFERENCE_CORPUS, REFERENCE_QUERIES

pytestmark = pytest.mark.unit

DIM = 16
TOKENIZE = BM25Tokenizer()


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def corpus() -> list[Chunk]:
    """The reference corpus three times over (ids not 0..n-1), so statistics span segments;
    each copy a little longer, so no two chunks tie exactly."""
    texts = [t + " filler" * copy for copy in range(3) for t in REFERENCE_CORPUS]
    return [Chunk(7 + 3 * i, text, f"T{i % 5}") for i, text in enumerate(texts)]


def segment_of(chunks: list[Chunk], rng: np.random.Generator, ann: AnnParams | None = None):
    return build_segment([c.id for c in chunks], unit(rng, len(chunks)),
                         [TOKENIZE(c.indexed_text) for c in chunks], ann)


def segmented(chunks: list[Chunk], cuts: list[int], deleted: list[int]) -> SegmentSet:
    rng = np.random.default_rng(0)
    segs = SegmentSet(DIM)
    bounds = [0, *cuts, len(chunks)]
    segs.segments = [segment_of(chunks[a:b], rng) for a, b in zip(bounds, bounds[1:], strict=False)]
    segs.delete(deleted)
    return segs


def test_bm25_over_segments_equals_one_index_over_the_live_chunks() -> None:
    chunks = corpus()
    deleted = [c.id for c in chunks[::7]]
    segs = segmented(chunks, [10, 11, 30], deleted)
    reference = BM25Index()  # bm25s underneath (it is gated against bm25s in test_bm25)
    reference.add([c for c in chunks if c.id not in set(deleted)])
    ours = SegmentedBM25(segs)
    for query in [*REFERENCE_QUERIES, "fox fox dog", "T3 bank"]:
        ids, scores = reference.scores(query)
        expected = {int(i): float(s) for i, s in zip(ids, scores, strict=True) if s > 0}
        got_ids, got_scores = ours.scores(query)
        got = {int(i): float(s) for i, s in zip(got_ids, got_scores, strict=True) if s > 0}
        assert got.keys() == expected.keys(), query
        for cid, score in expected.items():
            assert got[cid] == pytest.approx(score, rel=1e-5, abs=1e-5), (query, cid)
        assert ([h.chunk_id for h in ours.search(query, 10)]
                == [h.chunk_id for h in reference.search(query, 10)]), query


def test_bm25_merge_keeps_scores_and_drops_tombstones() -> None:
    chunks = corpus()
    segs = segmented(chunks, [5, 20], [chunks[3].id, chunks[25].id])
    before = {h.chunk_id: h.score for h in SegmentedBM25(segs).search("fox dog river", 50)}
    merged = merge_segments(segs.segments)
    assert len(merged) == len(chunks) - 2 and merged.deleted == 0
    assert list(merged.ids) == sorted(merged.ids)
    segs.segments = [merged]
    after = {h.chunk_id: h.score for h in SegmentedBM25(segs).search("fox dog river", 50)}
    assert after.keys() == before.keys()
    for cid in before:
        assert after[cid] == pytest.approx(before[cid], rel=1e-6)


def test_dense_search_merges_segments_and_never_returns_tombstones() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 300)
    ids = np.arange(1000, 1300)
    segs = SegmentSet(DIM)
    segs.segments = [build_segment(ids[a:a + 100], vectors[a:a + 100], [[]] * 100)
                     for a in (0, 100, 200)]
    dense = SegmentedDense(segs, embedder=None)  # type: ignore[arg-type]
    query = vectors[42]
    exact = ids[np.argsort(-(vectors @ query))[:10]]
    assert [h.chunk_id for h in dense.search_vector(query, 10)] == list(exact)
    segs.delete([int(exact[0]), int(exact[3])])
    got = [h.chunk_id for h in dense.search_vector(query, 10)]
    assert int(exact[0]) not in got and int(exact[3]) not in got and len(got) == 10
    np.testing.assert_allclose(dense.vectors_for([1150, 1001]), vectors[[150, 1]], atol=1e-6)
    with pytest.raises(KeyError):
        dense.vectors_for([int(exact[0])])
    assert dense.count() == 298


def test_hnsw_recall_at_10_against_exact_and_tombstones_filtered() -> None:
    rng = np.random.default_rng(2)
    n, dim = 6000, 32
    vectors = unit(rng, n, dim)
    ids = np.arange(n) * 2 + 5
    ann = AnnParams(threshold=5000, m=16, ef_construction=100, ef_search=64)
    segs = SegmentSet(dim, ann=ann)
    segs.segments = [build_segment(ids, vectors, [[]] * n, ann)]
    assert segs.segments[0].hnsw is not None
    dense = SegmentedDense(segs, embedder=None)  # type: ignore[arg-type]
    queries = unit(rng, 50, dim)
    dead = set(int(i) for i in rng.choice(ids, 600, replace=False))
    segs.delete(sorted(dead))
    live = np.array([i not in dead for i in ids])
    recalls = []
    for q in queries:
        scores = np.where(live, vectors @ q, -np.inf)
        exact = set(ids[np.argsort(-scores)[:10]].tolist())
        got = [h.chunk_id for h in dense.search_vector(q, 10)]
        assert not dead & set(got)
        recalls.append(len(exact & set(got)) / 10)
    assert np.mean(recalls) >= 0.95


def test_segment_file_round_trip_sizes_at_open_checksums_in_verify(tmp_path) -> None:
    rng = np.random.default_rng(3)
    ann = AnnParams(threshold=20, m=8, ef_construction=40, ef_search=32)
    segment = segment_of(corpus(), rng, ann)
    segment.delete(np.asarray([segment.ids[0]]))  # tombstones live in the manifest, not here
    files = write_segment(segment, tmp_path / "seg-000001.seg")
    assert list(files) == ["seg-000001.seg", "seg-000001.hnsw"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)
    opened = open_segment(tmp_path, files, DIM)
    assert isinstance(opened.vectors, np.memmap) and opened.deleted == 0
    np.testing.assert_array_equal(opened.ids, segment.ids)
    np.testing.assert_array_equal(opened.vectors, segment.vectors)
    np.testing.assert_array_equal(opened.rows, segment.rows)
    np.testing.assert_array_equal(opened.tfs, segment.tfs)
    assert opened.vocab == segment.vocab and opened.hnsw.ntotal == len(segment)
    query = segment.vectors[5]
    assert opened.dense_top(query, 1, 32)[0].tolist() == [segment.ids[5]]  # through the HNSW
    assert verify_files(tmp_path, files) == []
    # same size, other bytes: open does not notice (no hashing), verify does
    path = tmp_path / "seg-000001.seg"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert verify_files(tmp_path, files) == [f"{path}: checksum mismatch"]
    path.write_bytes(bytes(data[:-4]))
    with pytest.raises(IndexFormatError, match="seg-000001.seg"):
        open_segment(tmp_path, files, DIM)
    with pytest.raises(IndexFormatError, match="not a segment file"):
        open_segment(tmp_path, {path.name: [len(data) - 4, ""]}, DIM)
    path.write_bytes(bytes(data))  # whole again, but its graph lost
    (tmp_path / "seg-000001.hnsw").unlink()
    with pytest.raises(IndexFormatError, match="seg-000001.hnsw"):
        open_segment(tmp_path, files, DIM)


def test_build_segment_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="unique"):
        build_segment([3, 3], unit(np.random.default_rng(0), 2), [["a"], ["b"]])
    with pytest.raises(ValueError, match="2 ids, 1 vectors"):
        build_segment([3, 4], unit(np.random.default_rng(0), 1), [["a"], ["b"]])


def test_tiers() -> None:
    policy = MergePolicy(factor=10, floor_rows=1000)
    assert [tier(n, policy) for n in (0, 999, 1000, 9999, 10_000, 99_999, 100_000)] == \
        [0, 0, 1, 1, 2, 2, 3]


def test_plan_merge_tiered() -> None:
    policy = MergePolicy(factor=4, floor_rows=10, max_deleted=0.5)
    assert plan_merge([], policy) == []
    assert plan_merge([(1, 0)] * 3, policy) == []
    # four small ones merge; the big one stays
    assert plan_merge([(1, 0), (500, 0), (2, 0), (3, 0), (1, 0)], policy) == [0, 2, 3, 4]
    # the smallest tier first, and only `factor` of it
    small = [(5, 0)] * 6
    assert plan_merge([(50, 0)] * 4 + small, policy) == [4, 5, 6, 7]
    # live size decides the tier: a big segment mostly deleted joins the small ones
    assert plan_merge([(1000, 998), (1, 0), (1, 0), (1, 0)], policy) == [0, 1, 2, 3]
    # too many tombstones: rewritten alone
    assert plan_merge([(100, 60), (100, 10)], policy) == [0]
    assert plan_merge([(100, 100)], policy) == [0]
    with pytest.raises(ValueError):
        plan_merge([(3, 4)], policy)
    with pytest.raises(ValueError):
        MergePolicy(factor=1)


def test_matching_is_the_live_chunks_a_term_scores_for() -> None:
    """`matching` (the evidence check's df and presence) reads postings only and agrees
    with scoring: the live chunks a term scores above 0 for, tombstones left out."""
    chunks = corpus()
    deleted = [c.id for c in chunks[::5]]
    ours = SegmentedBM25(segmented(chunks, [10, 11, 30], deleted))
    tokenizer = BM25Tokenizer()
    terms = {t for c in chunks for t in tokenizer(c.indexed_text)}
    assert terms
    for term in sorted(terms):
        ids, scores = ours.scores(term)
        assert sorted(ours.matching(term).tolist()) == sorted(ids[scores > 0].tolist()), term
        assert not set(ours.matching(term).tolist()) & set(deleted)
    assert len(ours.matching("no-such-term-anywhere")) == 0


def brute_force_bm25(docs: dict[int, list[str]], query: list[str], k1: float = 1.5,
                     b: float = 0.75) -> dict[int, float]:
    """Lucene BM25 from its definition, in float64, over `docs` (chunk id -> terms)."""
    n = len(docs)
    avgdl = sum(len(t) for t in docs.values()) / n
    out: dict[int, float] = {}
    for term in query:
        df = sum(term in t for t in docs.values())
        if not df:
            continue
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        for cid, terms in docs.items():
            tf = terms.count(term)
            if tf:
                out[cid] = out.get(cid, 0.0) + idf * tf / (tf + k1 * (1 - b + b * len(terms) / avgdl))
    return out


def test_bm25_top10_equals_brute_force_with_ties_tombstones_and_many_segments() -> None:
    """The fast path (one gather per segment, cached row norms, top-k on the dense scores)
    ranks as BM25's definition does: exact copies in different segments tie and break by
    chunk id, tombstoned rows never count (not even in df, N or avgdl), and the cached
    norms follow avgdl when a write changes it."""
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(40)]
    texts = [list(rng.choice(words, size=int(rng.integers(3, 15)))) for _ in range(120)]
    texts += texts[:30]  # exact copies: ties across segments
    ids = [int(i) for i in rng.permutation(5000)[:len(texts)]]
    docs = dict(zip(ids, texts, strict=True))
    segs = SegmentSet(DIM)
    cuts = [0, 7, 8, 50, 51, 90, 150]
    segs.segments = [build_segment(ids[a:z], unit(rng, z - a), texts[a:z])
                     for a, z in zip(cuts, cuts[1:], strict=False)]
    ours = SegmentedBM25(segs)
    queries = [["w1"], ["w2", "w3", "w3"], ["w5", "w7", "w11", "w13"], ["nothing", "w9"]]

    def check() -> None:
        for query in queries:
            want = brute_force_bm25(docs, query)
            top = sorted(want, key=lambda c: (-round(want[c], 5), c))[:10]
            got = ours.search(" ".join(query), 10)
            assert [h.chunk_id for h in got] == top, query
            for hit in got:
                assert hit.score == pytest.approx(want[hit.chunk_id], rel=1e-5)

    check()
    dead = ids[::9]
    assert segs.delete(dead + [999_999]) == len(dead)  # each row once, an unknown id none
    assert segs.count() == len(ids) - len(dead)
    assert sum(s.live_length for s in segs.segments) == sum(
        len(t) for c, t in docs.items() if c not in set(dead))
    for cid in dead:
        del docs[cid]
    check()
    assert ours.search("nothing", 10) == []
