"""The `ragmem` CLI end to end (CliRunner on api.cli.app, a tmp data dir, the real service)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag.service.core
from api.cli import app
from tests.rag.service.test_service import corpus_records

pytestmark = pytest.mark.integration

DOC_KEYS = {"answer", "citations", "abstained", "generator", "retrieval"}
CITATION_KEYS = {"chunk_id", "document_id", "title", "text", "start", "end", "score"}


@pytest.fixture(scope="module")
def cli(embedder, tmp_path_factory):
    """Run `ragmem ARGS... --data-dir DIR`; every command's service reuses the loaded model."""
    data_dir = tmp_path_factory.mktemp("cli-data")
    patch = pytest.MonkeyPatch()
    patch.setattr(rag.service.core, "RagService",
                  functools.partial(rag.service.core.RagService, embedder=embedder))
    runner = CliRunner()

    def run(*args: str, data: Path = data_dir):
        return runner.invoke(app, [*args, "--data-dir", str(data)], catch_exceptions=False)

    run.data_dir = data_dir
    yield run
    patch.undo()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-files")
    (root / "notes.txt").write_text("The lighthouse keeper lit the lamp every evening at dusk. "
                                    "Ships used its beam to avoid the rocks.", encoding="utf-8")
    (root / "guide.md").write_text("# Sourdough\n\nSourdough bread rises with wild yeast and "
                                   "lactic acid bacteria.", encoding="utf-8")
    folder = root / "folder"
    (folder / "nested").mkdir(parents=True)
    (folder / "page.html").write_text("<html><head><title>Tides</title></head><body><p>Tides "
                                      "are caused by the gravity of the Moon.</p></body></html>")
    (folder / "nested" / "corpus.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in corpus_records()[:6]),
        encoding="utf-8")
    (folder / "ignored.xyz").write_text("not a supported type")
    return {"txt": root / "notes.txt", "md": root / "guide.md", "folder": folder}


@pytest.fixture(scope="module")
def ingested(cli, files):
    result = cli("ingest", str(files["txt"]), str(files["md"]), str(files["folder"]), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ingest_files_and_a_folder(ingested) -> None:
    assert ingested["collection"] == "default"
    assert ingested["files"] == 4  # notes.txt, guide.md, page.html, corpus.jsonl (not .xyz)
    assert len(ingested["documents"]) == 3 + 6
    assert {d["status"] for d in ingested["documents"]} == {"created"}
    assert ingested["failed"] == [] and ingested["job_id"]


def test_ingest_again_is_deduplicated(cli, files, ingested) -> None:
    result = cli("ingest", str(files["txt"]), "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert [d["status"] for d in summary["documents"]] == ["duplicate"]
    assert summary["job_id"] is None


def test_ask_json_prints_the_documented_object(cli, ingested) -> None:
    result = cli("ask", "Who was the first woman to win a Nobel Prize?", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == DOC_KEYS | {"supporting_text"}  # a short answer with its sentences
    assert data["abstained"] is False and data["generator"] == "extractive"
    assert data["answer"].startswith("Marie Curie") and "Nobel" in data["supporting_text"]
    assert data["citations"] and data["citations"][0]["document_id"] == "curie"
    for citation in data["citations"]:
        assert set(citation) == CITATION_KEYS
    assert data["retrieval"]["retriever"] == "hybrid"


def test_ask_human_output(cli, ingested) -> None:
    result = cli("ask", "What causes the tides?")
    assert result.exit_code == 0
    assert "Moon" in result.output and "[1]" in result.output


def test_retrieve_json(cli, ingested) -> None:
    result = cli("retrieve", "lighthouse beam", "--json", "--top-k", "2", "--retriever", "bm25")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["results"]) <= 2 and data["retrieval"]["retriever"] == "bm25"
    top = data["results"][0]
    assert set(top) == CITATION_KEYS and top["title"] == "notes"
    assert "lighthouse" in top["text"]


def test_collections_and_documents(cli, files, ingested) -> None:
    result = cli("ingest", str(files["md"]), "--collection", "scratch", "--json")
    assert result.exit_code == 0
    listed = json.loads(cli("collections", "list", "--json").stdout)
    by_name = {c["name"]: c for c in listed}
    assert by_name["default"]["documents"] == 9 and by_name["scratch"]["documents"] == 1

    docs = json.loads(cli("documents", "list", "--collection", "scratch", "--json").stdout)
    assert [d["title"] for d in docs] == ["Sourdough"]
    result = cli("documents", "delete", docs[0]["id"], "--collection", "scratch", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"deleted": docs[0]["id"]}
    assert json.loads(cli("documents", "list", "-c", "scratch", "--json").stdout) == []
    answer = json.loads(cli("ask", "sourdough wild yeast", "-c", "scratch", "--json").stdout)
    assert answer["abstained"] and answer["citations"] == []

    result = cli("collections", "delete", "scratch", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"deleted": "scratch"}
    names = {c["name"] for c in json.loads(cli("collections", "list", "--json").stdout)}
    assert "scratch" not in names and "default" in names


def test_documents_delete_removes_from_answers(cli, ingested) -> None:
    docs = json.loads(cli("documents", "list", "--json").stdout)
    notes = next(d for d in docs if d["title"] == "notes")
    assert cli("documents", "delete", notes["id"]).exit_code == 0
    data = json.loads(cli("retrieve", "lighthouse keeper lamp", "--json").stdout)
    assert notes["id"] not in {r["document_id"] for r in data["results"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ask", "anything", "--collection", "nope"), "not found"),
        (("retrieve", "anything", "--collection", "nope"), "not found"),
        (("documents", "list", "--collection", "nope"), "not found"),
        (("collections", "delete", "nope"), "not found"),
        (("documents", "delete", "no-such-doc"), "not found"),
        (("ingest", "/definitely/missing/file.txt"), "no such file"),
        (("ask", ""), "empty"),
        (("ask", "   "), "empty"),
        (("retrieve", "x", "--top-k", "0"), "top_k"),
        (("ask", "x", "--retriever", "magic"), "unknown retriever"),
        (("ingest", "README.md", "--collection", "../evil"), "invalid collection name"),
    ],
)
def test_errors_exit_non_zero_with_a_clear_message(cli, ingested, args, message) -> None:
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output.lower().replace("\n", " ")
    assert "Traceback" not in result.output


def test_bad_file_is_reported_and_good_ones_are_kept(cli, tmp_path) -> None:
    (tmp_path / "good.txt").write_text("Otters hold hands while they sleep.")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02binary\xff")
    result = cli("ingest", str(tmp_path), "-c", "mixed", "--json")
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert {Path(f["file"]).name for f in summary["failed"]} == {"empty.txt", "binary.txt"}
    assert [d["status"] for d in summary["documents"]] == ["created"]
    data = json.loads(cli("retrieve", "otters sleep", "-c", "mixed", "--json").stdout)
    assert data["results"][0]["title"] == "good"


def test_empty_folder_is_an_error(cli, tmp_path) -> None:
    result = cli("ingest", str(tmp_path))
    assert result.exit_code == 2 and "no supported files" in result.output
