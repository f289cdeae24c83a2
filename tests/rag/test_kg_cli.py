"""`ragmem kg build|stats|import-openie|export` end to end: CliRunner on api.cli.app, a tmp
data dir, the real service with spaCy and MiniLM, the corpus in tests/data/kg."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import networkx as nx
import pytest
from typer.testing import CliRunner

import rag.service.core
from api.cli import app

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "kg" / "corpus.jsonl"
RECORDS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]

# HippoRAG-style triples (what its LLM OpenIE writes) for some of the corpus.
TRIPLES = {
    "blue-harbor": [["Blue Harbor", "directed by", "Alice Marlowe"],
                    ["Blue Harbor", "shot in", "Lisbon"]],
    "marlowe": [["Alice Marlowe", "born in", "Bristol"], ["Alice Marlowe", "is", "film director"]],
    "bristol": [["Bristol", "located in", "England"]],
    "jensen": [["Carl Jensen", "born in", "Aarhus"], ["Carl Jensen", "composed score of",
                                                       "Blue Harbor"]],
    "aarhus": [["Aarhus", "city in", "Denmark"]],
    "lisbon": [["Lisbon", "capital of", "Portugal"]],
    "orchard": [["The Silent Orchard", "written by", "Ruth Okafor"]],
}


def hipporag_file(path: Path) -> Path:
    """An OpenIE results file as HippoRAG writes it: seven of the eight passages (one only
    matchable by title and text), plus one passage the collection does not hold."""
    docs = []
    for record in RECORDS:
        if record["id"] not in TRIPLES:
            continue
        triples = TRIPLES[record["id"]]
        passage = f"{record['title']}\n{record['text']}"
        if record["id"] == "orchard":  # other whitespace: no exact match, title + text do
            passage = f"{record['title']}\n  {record['text']}  "
        docs.append({"idx": len(docs), "title": record["title"], "text": record["text"],
                     "passage": passage, "extracted_entities": sorted(
                         {p for s, _, o in triples for p in (s, o)}),
                     "extracted_triples": triples})
    docs.append({"idx": len(docs), "title": "Oslo", "text": "Oslo is the capital of Norway.",
                 "passage": "Oslo\nOslo is the capital of Norway.",
                 "extracted_entities": ["Oslo", "Norway"],
                 "extracted_triples": [["Oslo", "capital of", "Norway"]]})
    path.write_text(json.dumps({"docs": docs, "ents_by_doc": [], "avg_ent_chars": 8.0,
                                "avg_ent_words": 1.5}), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cli(embedder, tmp_path_factory):
    """Run `ragmem ARGS... --data-dir DIR` (the loaded MiniLM reused); collections `kg` and
    `kgimp` hold the corpus."""
    data_dir = tmp_path_factory.mktemp("kg-cli")
    patch = pytest.MonkeyPatch()
    patch.setattr(rag.service.core, "RagService",
                  functools.partial(rag.service.core.RagService, embedder=embedder))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)

    for name in ("kg", "kgimp"):
        assert run("ingest", str(CORPUS), "--collection", name).exit_code == 0
    yield run
    patch.undo()


def as_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_build_and_stats(cli) -> None:
    missing = cli("kg", "stats", "--collection", "kg")
    assert missing.exit_code == 2 and "ragmem kg build" in missing.output

    built = as_json(cli("kg", "build", "--collection", "kg", "--json"))
    assert built["built"] is True
    stats = built["stats"]
    assert stats["passages"] == len(RECORDS) and stats["sources"] == {"spacy": len(RECORDS)}
    assert stats["mode_setting"] == "auto" and stats["mode"] == "entity"  # offline triples
    info = built["build"]
    assert info["passages"] == len(RECORDS) and info["graph_passages_per_s"] > 0
    assert info["openie_extracted"] + info["openie_cached"] == len(RECORDS)

    again = as_json(cli("kg", "build", "--collection", "kg", "--json"))
    assert again["built"] is False  # up to date: nothing to do
    rebuilt = as_json(cli("kg", "build", "--collection", "kg", "--rebuild", "--json"))
    assert rebuilt["built"] is True
    assert rebuilt["build"]["openie_cached"] == len(RECORDS)  # OpenIE came from the cache

    shown = as_json(cli("kg", "stats", "--collection", "kg", "--json"))
    for key in ("nodes", "edges", "facts", "synonymy_edges", "relation_edges", "sources"):
        assert key in shown
    assert shown["nodes"] == shown["passages"] + shown["phrases"]
    human = cli("kg", "stats", "--collection", "kg")
    assert human.exit_code == 0 and "synonymy_edges" in human.output


def test_import_openie_rebuilds_with_imported_triples(cli, tmp_path) -> None:
    as_json(cli("kg", "build", "--collection", "kgimp", "--json"))
    openie = hipporag_file(tmp_path / "openie_results.json")
    report = as_json(cli("kg", "import-openie", str(openie), "--collection", "kgimp", "--json"))
    assert report["docs"] == 8 and report["matched_docs"] == 7 and report["unmatched_docs"] == 1
    assert report["matched_chunks"] == 7 and report["unmatched_chunks"] == 1
    assert report["rebuilt"] is True and report["preferred"] is True
    assert report["stats"]["sources"] == {"import": 7, "spacy": 1}
    assert report["stats"]["mode"] == "hybrid"  # mostly imported triples: facts + entities

    result = as_json(cli("retrieve", "Where was the director of Blue Harbor born?",
                         "--collection", "kgimp", "--retriever", "hipporag", "--json"))
    trace = result["retrieval"]["kg"]
    assert trace["mode"] == "hybrid" and trace["facts"]
    assert ["blue harbor", "directed by", "alice marlowe"] in [f["triple"] for f in trace["facts"]]
    top = [c["document_id"] for c in result["results"]]  # top 5
    assert top[0] == "blue-harbor" and "marlowe" in top

    again = as_json(cli("kg", "import-openie", str(openie), "--collection", "kgimp", "--json"))
    assert again["rebuilt"] is False  # the same triples: the graph is current
    human = cli("kg", "import-openie", str(openie), "--collection", "kgimp")
    assert human.exit_code == 0 and "7 of 8 passages matched 7 chunks" in human.output


def test_import_errors(cli, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"documents": []}')
    result = cli("kg", "import-openie", str(bad), "--collection", "kgimp")
    assert result.exit_code == 2 and "'docs' list" in result.output
    result = cli("kg", "import-openie", str(tmp_path / "absent.json"), "--collection", "kgimp")
    assert result.exit_code == 2
    result = cli("kg", "build", "--collection", "nope")
    assert result.exit_code == 3


def test_export_graphml(cli, tmp_path) -> None:
    as_json(cli("kg", "build", "--collection", "kg", "--json"))
    path = tmp_path / "out" / "kg.graphml"
    result = as_json(cli("kg", "export", "--collection", "kg", "--graphml", str(path), "--json"))
    graph = nx.read_graphml(path)
    stats = as_json(cli("kg", "stats", "--collection", "kg", "--json"))
    assert graph.number_of_nodes() == result["nodes"] == stats["nodes"]
    assert graph.number_of_edges() == result["edges"]
    kinds = {d["kind"] for _, d in graph.nodes(data=True)}
    assert kinds == {"phrase", "passage"}
    assert "phrase:blue harbor" in graph
    assert all(d["weight"] > 0 for _, _, d in graph.edges(data=True))
