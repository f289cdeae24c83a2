"""`ragmem bench multihop --retrievers hipporag --openie ...` and `ragmem bench kg-speed`,
end to end on the tiny hand-made set (tests/data/bench) with a HippoRAG OpenIE file the
test writes for it."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag.service.core
from api.cli import app

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "bench"
TRIPLES = {
    "Paris": [["Paris", "capital of", "France"]],
    "Berlin": [["Berlin", "capital of", "Germany"]],
    "Rome": [["Rome", "capital of", "Italy"]],
    "Eiffel Tower": [["Eiffel Tower", "located in", "Paris"],
                     ["Eiffel Tower", "named after", "Gustave Eiffel"]],
    "Gustave Eiffel": [["Gustave Eiffel", "born in", "Dijon"]],
    "Colosseum": [["Colosseum", "located in", "Rome"]],
}


@pytest.fixture(scope="module")
def bench(embedder, tmp_path_factory):
    """`ragmem bench ARGS... --data-dir DIR --json` as a dict (the loaded MiniLM reused)."""
    data_dir = tmp_path_factory.mktemp("kg-bench")
    patch = pytest.MonkeyPatch()
    patch.setattr(rag.service.core, "RagService",
                  functools.partial(rag.service.core.RagService, embedder=embedder))

    def run(*args: str) -> dict:
        result = CliRunner().invoke(app, ["bench", *args, "--data-dir", str(data_dir), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    yield run
    patch.undo()


@pytest.fixture(scope="module")
def openie_file(tmp_path_factory) -> Path:
    docs = [{"idx": n, "title": p["title"], "text": p["text"],
             "passage": f"{p['title']}\n{p['text']}",
             "extracted_entities": sorted({e for s, _, o in TRIPLES[p["title"]] for e in (s, o)}),
             "extracted_triples": TRIPLES[p["title"]]}
            for n, p in enumerate(json.loads((DATA / "corpus.json").read_text()))]
    path = tmp_path_factory.mktemp("openie") / "openie_bench_results.json"
    path.write_text(json.dumps({"docs": docs}))
    return path


def test_multihop_graph_follows_the_openie_option(bench, openie_file) -> None:
    imported = bench("multihop", str(DATA), "--retrievers", "hipporag,dense", "--openie",
                     str(openie_file))
    kg = imported["meta"]["kg"]
    assert kg["import"]["matched_docs"] == 6 and kg["import"]["unmatched_chunks"] == 0
    assert kg["built"] is True and kg["stats"]["sources"] == {"import": 6}
    assert kg["stats"]["mode"] == "hybrid" and kg["graph_passages_per_s"] > 0
    assert set(imported["results"]) == {"hipporag", "dense"}
    assert imported["results"]["hipporag"]["R@10"] == 1.0  # six passages

    offline = bench("multihop", str(DATA), "--retrievers", "hipporag", "--openie", "offline")
    kg = offline["meta"]["kg"]
    assert kg["built"] is True and kg["stats"]["sources"] == {"spacy": 6}  # not the import
    assert kg["openie_extracted"] == 6 and kg["openie_passages_per_s"] > 0
    assert kg["stats"]["mode"] == "entity"

    cached = bench("multihop", str(DATA), "--retrievers", "hipporag", "--openie", "offline")
    assert cached["meta"]["kg"]["built"] is False  # the same triples: the graph is reused
    recall = {k: v for k, v in offline["results"]["hipporag"].items() if "R@" in k}
    assert recall.items() <= cached["results"]["hipporag"].items()

    again = bench("multihop", str(DATA), "--retrievers", "hipporag")  # settings: import first
    assert again["meta"]["kg"]["built"] is True
    assert again["meta"]["kg"]["stats"]["sources"] == {"import": 6}


def test_kg_speed_reports_costs_and_ppr_ratio(bench) -> None:
    result = bench("kg-speed", str(DATA), "--openie", "offline", "--queries", "3")
    assert result["openie"]["passages"] == 6 and result["openie"]["passages_per_s"] > 0
    assert result["graph_build"]["passages"] == 6 and result["graph_build"]["passages_per_s"] > 0
    ppr = result["ppr"]
    assert ppr["queries"] + ppr["no_seed"] == 3 and ppr["queries"] >= 1
    assert ppr["same_top10"] == 1.0 and ppr["speedup"] > 0
    assert ppr["ours_ms_mean"] > 0 and ppr["networkx_ms_mean"] > 0


def test_openie_option_needs_hipporag(tmp_path) -> None:
    result = CliRunner().invoke(app, ["bench", "multihop", str(DATA), "--retrievers", "dense",
                                      "--openie", "offline", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "hipporag" in result.output
