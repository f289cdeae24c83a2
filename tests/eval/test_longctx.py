"""Long-context benchmark helpers and runners (generated haystacks; shared sets if present)."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from eval.longctx import (
    build_haystack,
    covered,
    insert_needles,
    load_kv_retrieval,
    load_longctx,
    load_longeval_lines,
    load_passkey,
    needles_for,
    run_longctx,
    run_needle,
)
from memory.assembly import AssembledContext, Piece
from memory.tokens import RegexTokenCounter

ESSAYS = Path(__file__).resolve().parents[1] / "data" / "memory" / "essays"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "longctx"


@pytest.mark.unit
def test_haystack_has_exact_token_count():
    essays = [p.read_text() for p in sorted(ESSAYS.glob("*.txt"))]
    counter = RegexTokenCounter()
    for n in (100, 2000, 9000):  # 9000 repeats the essays
        assert counter.count([build_haystack(essays, n, counter)])[0] == n


@pytest.mark.unit
@pytest.mark.parametrize("depth", [0.0, 0.25, 0.5, 1.0])
def test_needles_are_inserted_at_depth(depth):
    haystack = "Filler sentence here. " * 200
    needles, _ = needles_for(3)
    text, spans = insert_needles(haystack, needles, depth)
    assert sorted(text[s:e] for s, e in spans) == sorted(needles)
    assert spans[0][0] >= int(len(haystack) * depth) - 30 or depth == 0.0
    with pytest.raises(ValueError):
        insert_needles(haystack, needles, 1.5)


@pytest.mark.unit
def test_covered_spans_adjacent_pieces():
    pieces = (Piece("block", 0, "d", 0, 10, 1), Piece("block", 1, "d", 10, 20, 1))
    ctx = AssembledContext(pieces, 2, 10)
    assert covered(ctx, (5, 15)) and covered(ctx, (0, 20))
    assert not covered(ctx, (15, 25))
    gap = AssembledContext((pieces[0], Piece("block", 3, "d", 30, 40, 1)), 2, 10)
    assert not covered(gap, (5, 35))


@pytest.mark.unit
def test_loaders_read_original_formats(tmp_path):
    kv = tmp_path / "kv-retrieval-3_keys.jsonl.gz"
    with gzip.open(kv, "wt") as fh:
        fh.write(json.dumps({"ordered_kv_records": [["k1", "v1"], ["k2", "v2"]], "key": "k2", "value": "v2"}))
    case = next(load_kv_retrieval(kv))
    assert case.golds == ('"k2": "v2"',) and case.golds[0] in case.context and "k2" in case.query
    lines = tmp_path / "3_lines.jsonl.gz"
    prompt = "Record:\nline a-b: REGISTER_CONTENT is <1>\nNow the record is over. Tell me line a-b?"
    with gzip.open(lines, "wt") as fh:
        fh.write(json.dumps({"prompt": prompt, "correct_line": "line a-b: REGISTER_CONTENT is <1>\n"}))
    case = next(load_longeval_lines(lines))
    assert case.golds[0] in case.context and case.query.startswith("Now the record is over")
    archive = tmp_path / "passkey_archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        record = {
            "context": "Filler. The pass key is 12345. Filler.",
            "input": "What is the pass key?",
            "answer": 12345,
        }
        zf.writestr("passkey_8192.jsonl", json.dumps(record) + "\n")
    assert next(load_passkey(archive)).golds == ("12345",)
    assert next(load_longctx(archive)).case_id == "passkey_8192:0"
    with pytest.raises(ValueError, match="unknown"):
        load_longctx(tmp_path / "other.jsonl")


@pytest.mark.integration
def test_run_needle_small(embedder):
    calls = []
    out = run_needle(
        tokens=[3000],
        depths=[0.2, 0.7],
        essays_dir=ESSAYS,
        encoder=embedder,
        budget=1024,
        repeats=2,
        progress=lambda d, t: calls.append((d, t)),
    )
    summary = out["summary"]["3000"]
    assert summary["recall"] == 1.0
    assert {"recall", "lookup_ms_p50", "lookup_ms_p95", "build_s", "peak_rss_mb"} <= set(summary)
    assert len(out["results"]) == 2 and calls[-1] == (2, 2)
    json.dumps(out)


@pytest.mark.integration
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/datasets is absent")
def test_run_longctx_on_shared_kv_retrieval(embedder):
    out = run_longctx(
        SHARED / "lost_in_the_middle" / "kv-retrieval-75_keys.jsonl.gz",
        limit=2,
        encoder=embedder,
        budget=1024,
    )
    (summary,) = out["summary"].values()
    assert summary["recall"] == 1.0 and summary["cases"] == 2
