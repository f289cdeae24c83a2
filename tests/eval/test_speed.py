"""`ragmem bench speed`'s ingest measurement: the embedder's time split out of an ingest."""

from __future__ import annotations

import numpy as np

from eval.speed import ingest_throughput, timed_encode
from rag.settings import Settings

PASSAGES = [(f"Title {i}", f"Passage number {i} talks about river {i} and its bridges.")
            for i in range(11)] + [("Long", "A sentence about a long river that goes on. " * 60)]


def test_timed_encode_records_each_call_and_restores_the_method(embedder) -> None:
    texts: list[str] = []
    with timed_encode(embedder, texts) as calls:
        first = embedder.encode(["one text"])
        embedder.encode(["two", "texts"])
    assert len(calls) == 2 and all(c > 0 for c in calls)
    assert texts == ["one text", "two", "texts"]
    assert "encode" not in vars(embedder)  # the class method is back
    assert np.allclose(first, embedder.encode(["one text"]), atol=1e-6)


def test_ingest_throughput_splits_embedder_time_from_the_rest(embedder, tmp_path) -> None:
    result = ingest_throughput(embedder, Settings(data_dir=tmp_path), PASSAGES, rounds=2)
    assert result["passages"] == 12 and result["rounds"] == 2
    # The long passage is chunked: encode-only embeds the same chunk texts as the ingest.
    assert result["chunks"] > 12
    assert len(result["encode_only_s"]) == len(result["ingest_s"]) == 2
    # Everything outside the embedder takes real, positive time (SQLite, fsyncs, BM25),
    # and less than the whole ingest.
    assert 0 < result["non_embedder_s"] < min(result["ingest_s"])
    assert result["non_embedder_share"] > 0
    # The fastest round is the one reported (the list holds rounded seconds).
    assert abs(result["ingest_per_s"] - 12 / min(result["ingest_s"])) < 0.02 * result["ingest_per_s"]


def test_compare_backends_side_by_side_with_ratios(embedder, tmp_path) -> None:
    from eval.speed import compare_backends

    queries = ["where is river 3?", "bridges of river 7"]
    result = compare_backends({"torch": embedder, "again": embedder}, Settings(data_dir=tmp_path),
                              PASSAGES, queries, rounds=2)
    assert result["passages"] == 12 and result["chunks"] > 12 and result["rounds"] == 2
    torch_row, again = result["backends"]["torch"], result["backends"]["again"]
    assert torch_row["embedder"] == "all-MiniLM-L6-v2" and len(torch_row["ingest_s"]) == 2
    # the whole ingest includes the encode, so it is never faster than the encode alone
    assert 0 < torch_row["ingest_per_s"] <= torch_row["encode_per_s"]
    assert torch_row["query"]["p50_ms"] > 0 and "ingest_speedup" not in torch_row
    # the same embedder twice: identical vectors, ratios near 1 (timed in the same run)
    assert again["cos_vs_torch_min"] >= 0.9999
    assert {"ingest_speedup", "encode_speedup", "query_p50_speedup"} <= set(again)
    assert again["ingest_speedup"] == round(again["ingest_per_s"] / torch_row["ingest_per_s"], 2)
    # every timed query runs the model: the embedder's reused query vectors (a hit takes
    # microseconds) are forgotten first, though each round and each backend repeats them
    assert torch_row["query"]["p50_ms"] > 0.5 and again["query"]["p50_ms"] > 0.5


def test_backend_names_are_checked(tmp_path) -> None:
    import pytest

    from eval.speed import backend_embedders
    from rag.errors import InvalidInputError

    made = backend_embedders(Settings(data_dir=tmp_path), ["torch", "onnx-int8"])
    assert [e.backend for e in made.values()] == ["torch", "onnx-int8"]
    assert not any(e.loaded for e in made.values())  # nothing loaded until measured
    assert made["onnx-int8"].cache_dir == tmp_path / "models" / "embedder-onnx"
    for bad in (["torch", "onnx-int4"], ["onnx", "onnx"], []):
        with pytest.raises(InvalidInputError, match="--backends"):
            backend_embedders(Settings(data_dir=tmp_path), bad)
