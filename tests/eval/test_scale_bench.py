"""`ragmem bench scale` (issue 13): every row of the table measured through the service,
at a tiny size, and the one-document-per-request mode against a real `ragmem serve`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from eval.cli.scale import parse_sizes
from eval.datasets import load_multihop
from eval.scale import run_scale
from eval.scale_corpus import SyntheticVectors, one_chunk_passages, precomputed_encode, record
from eval.scale_http import per_doc
from eval.scale_report import ROWS, format_value, scale_table, size_label, write_scale_report
from rag.errors import InvalidInputError
from rag.service.core import RagService
from rag.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data" / "bench"
# Rows that need segments (merge) or --per-doc; every other row must hold a number.
OPTIONAL = ("full merge", "HTTP", "background merges", "bm25 same top 10")
# write_bytes counts what reaches a block device: 0 on a tmpfs /tmp.
ZERO_OK = ("bytes sent to storage",)

pytestmark = pytest.mark.integration


def test_bench_scale_reports_every_row_with_positive_numbers(tmp_path, embedder) -> None:
    # What `ragmem bench scale DATA --sizes 300 --batch 100 --queries 2 --base 6 --out OUT`
    # runs, on the session's model (the command would load a second copy).
    dataset = load_multihop(DATA)
    passages = one_chunk_passages([dataset], 1000)
    queries = [q.question for q in dataset.questions][:2]
    report = run_scale(embedder, Settings(data_dir=tmp_path / "data"), passages, queries, [300],
                       batch=100, base=6, ef_values=[16, 64])
    out = tmp_path / "out"
    write_scale_report(out, report, "ragmem bench scale --sizes 300")
    size = report["results"]["300"]
    assert size["chunks"] == 300
    # The corpus's vectors came from the table: only new documents and queries were embedded.
    assert size["vectors"]["precomputed"] >= 300
    # Only the 2 queries and the few documents added one at a time reached the model
    # (distinct texts: how often a query repeats depends on timing, e.g. the loop that
    # queries during an add).
    assert size["vectors"]["encoded_distinct"] < 50
    assert [b["at"] for b in size["bulk"]["batches"]] == [0, 100, 200]
    for label, getter, _ in ROWS:
        if label.startswith(OPTIONAL):
            continue
        value = getter(size)
        values = value if isinstance(value, tuple) else (value,)
        floor = -1 if label.startswith(ZERO_OK) else 0
        assert all(isinstance(v, int | float) and v > floor for v in values), (label, value)
    # Exact flat search today: ANN recall is perfect (and must stay >= 0.95 after issue 13).
    assert size["dense_recall_at_10"] == 1.0
    # Index-level rows: the efSearch sweep (flat segments at 300 rows: exact at any ef)
    # and segmented BM25 against one bm25s index over the same chunks (same ranking).
    assert [e["ef_search"] for e in size["ef_sweep"]] == [16, 64]
    assert all(e["recall_at_10"] == 1.0 and e["p50_ms"] > 0 for e in size["ef_sweep"])
    side = size["bm25_side_by_side"]
    assert side["same_top10"] == 1.0 and side["segmented"]["p50_ms"] > 0 < side["p50_ratio"]
    assert size["add_one"]["wchar_median"] > 0 and size["during_add"]["queries"] >= 1
    # Whole-generation indexes have nothing to merge; segmented ones report the merge.
    assert "skipped" in size["merge"] or size["merge"]["ms"] > 0
    assert (size["bulk"]["merge_wait_ms"] is None) == ("skipped" in size["merge"])
    if "skipped" not in size["merge"]:  # the adds left small segments: the merge has work
        assert size["merge"]["report"]["merged"] and size["merge"]["wchar"] > 0
    assert 0 < size["add_one"]["index_ms_median"] < size["add_one"]["ms_median"]
    table = (out / "scale.md").read_text()
    assert "| at N chunks | 300 |" in table and "add ONE 1-chunk document" in table
    assert json.loads((out / "scale.json").read_text())["results"]["300"]["chunks"] == 300


def test_bad_sizes_fail_with_a_clear_error(tmp_path) -> None:
    result = CliRunner().invoke(app, ["bench", "scale", str(DATA), "--sizes", "10,abc",
                                      "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--sizes must be comma-separated integers" in result.output
    assert parse_sizes("10k,1m, 300") == [10_000, 1_000_000, 300]
    with pytest.raises(InvalidInputError):
        parse_sizes("0")


def test_precomputed_encode_serves_corpus_texts_and_embeds_the_rest(embedder) -> None:
    passages = one_chunk_passages([load_multihop(DATA)], 1000)
    vectors = SyntheticVectors(embedder, passages, base=3)
    doc = record(passages, 7)  # passage 1, copy 1: base vector 1 plus its own noise
    text = f"{doc['title']}\n{doc['text']}"
    with precomputed_encode(embedder, vectors) as counts:
        got = embedder.encode([text, "a query no corpus holds"])
    assert "encode" not in vars(embedder)  # the real method is back
    assert counts["precomputed"] == 1 and counts["encoded"] == 1
    assert np.allclose(got[0], vectors.vector(text))
    assert np.allclose(got[1], embedder.encode(["a query no corpus holds"])[0], atol=1e-6)
    assert 0.8 < float(got[0] @ vectors.base[1]) < 1.0  # near its base, not equal
    assert np.allclose(vectors.vector(text), vectors.vector(text))  # seeded: same every run
    assert record(passages, 1)["title"] != record(passages, 1 + len(passages))["title"]


def test_table_shapes_sizes_and_units() -> None:
    assert [size_label(n) for n in (300, 10_000, 100_000, 1_000_000, 12_345)] == [
        "300", "10K", "100K", "1M", "12345"]
    assert format_value(17_900_000, "bytes") == "17.9 MB"
    assert format_value(0.366, "ms") == "0.37" and format_value(None, "ms") == "—"
    assert format_value((182.0, 6800.0), "pair") == "182.0 → 6,800"
    result = {"sizes": [10, 20], "results": {"10": {"add_one": {"ms_median": 5.0}},
                                             "20": {"add_one": {"ms_median": 50.0}}}}
    table = scale_table(result)
    assert "| add ONE 1-chunk document, end to end (ms, median of 3) | 5.00 | 50.0 |" in table
    assert "merge" not in table  # a row with no value at any size is left out


@pytest.mark.slow  # `ragmem serve` in its own process loads its own model
def test_per_doc_uploads_one_document_per_request_to_ragmem_serve(tmp_path, embedder) -> None:
    passages = one_chunk_passages([load_multihop(DATA)], 1000)
    data_dir = tmp_path / "data"
    service = RagService(Settings(data_dir=data_dir), embedder=embedder).open()
    try:
        collection = service.create_collection("scale")
        job, _ = service.add_documents(collection, service.parse_records(
            [record(passages, i) for i in range(6)]))
        service.run_job(job)
    finally:
        service.close()
    run = per_doc(data_dir, "scale", 6, [record(passages, 6 + j) for j in range(3)], "Paris")
    assert [w["at"] for w in run["writes"]] == [6, 7, 8]
    assert all(0 < w["ack_ms"] <= w["indexed_ms"] and w["bm25_ms"] > 0 for w in run["writes"])
    assert run["last_over_first"] > 0
    paths = write_scale_report(tmp_path / "out", {"sizes": [6], "results": {"6": {"per_doc": run}}})
    assert paths["png"].stat().st_size > 1000
    assert paths["csv"].read_text().splitlines()[1].startswith("6,6,")
    service = RagService(Settings(data_dir=data_dir), embedder=embedder).open()
    try:  # the server indexed them: they are in SQLite and searchable
        assert len(service.store.list_documents(service.collection("scale"))) == 9
    finally:
        service.close()
