"""Issue 19 items 7 and 9: the CLI starts without the heavy modules, and its help texts
name every retriever and carry no stray spaces (rich ate `[default: ...]` as markup)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from rag.retrieval.base import RETRIEVER_NAMES

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sentence_transformers", "transformers", "onnxruntime", "faiss", "spacy",
         "matplotlib", "fastapi", "uvicorn", "scipy", "bm25s")

PROBE = """
import json, sys
from typer.testing import CliRunner
from api.cli import app
runner = CliRunner()
results = [runner.invoke(app, args) for args in {commands!r}]
print(json.dumps({{"codes": [r.exit_code for r in results], "outputs": [r.output for r in results],
                  "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


def probe(commands: list[list[str]]) -> dict:
    code = PROBE.format(commands=commands, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_help_and_database_commands_import_no_heavy_module(tmp_path) -> None:
    data = str(tmp_path / "data")
    found = probe([["--help"], ["ask", "--help"], ["bench", "--help"],
                   ["collections", "list", "--json", "--data-dir", data],
                   ["documents", "list", "--json", "--data-dir", data]])
    assert found["codes"][:4] == [0, 0, 0, 0], found["outputs"]
    assert json.loads(found["outputs"][3]) == []
    assert found["codes"][4] == 3 and "not found" in found["outputs"][4]  # no "default" yet
    assert found["heavy"] == []


@pytest.mark.integration
def test_bm25_retrieve_loads_neither_torch_nor_the_model(tmp_path, embedder) -> None:
    """Opening the service reads the embedder's name and dim from the model's config; the
    weights load on the first encode, which a BM25 retrieve never makes."""
    from rag.service.core import RagService
    from rag.settings import Settings

    data = tmp_path / "data"
    service = RagService(Settings(data_dir=data), embedder=embedder).open()
    try:
        collection = service.create_collection("default")
        job, _ = service.add_documents(collection, service.parse_records(
            [{"title": "Lighthouse", "text": "The keeper lit the lighthouse lamp at dusk."},
             {"title": "Penguins", "text": "Penguins live in the southern hemisphere."}]))
        service.run_job(job)
    finally:
        service.close()
    found = probe([["retrieve", "lighthouse", "--retriever", "bm25", "--json", "--data-dir", str(data)],
                   ["collections", "list", "--json", "--data-dir", str(data)]])
    assert found["codes"] == [0, 0], found["outputs"]
    results = json.loads(found["outputs"][0])["results"]
    assert results[0]["title"] == "Lighthouse"
    assert json.loads(found["outputs"][1])[0]["name"] == "default"
    # scipy: the KG graph, memory's BM25 matrix and bm25s load it only when they are used
    assert found["heavy"] == []


def test_the_cli_no_longer_lives_in_the_rag_floor() -> None:
    import rag.cli

    assert not hasattr(rag.cli, "app") and not hasattr(rag.cli, "main")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'ragmem = "api.cli:main"' in pyproject


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


@pytest.mark.parametrize("command", [("ask",), ("retrieve",), ("bench", "multihop"),
                                     ("bench", "beir")])
def test_retriever_help_names_every_registered_retriever(command) -> None:
    text = _help(*command)
    assert ", ".join(RETRIEVER_NAMES) in text


@pytest.mark.parametrize("command", [(), ("ask",), ("retrieve",), ("ingest",), ("serve",),
                                     ("documents", "list"), ("memory", "context"),
                                     ("memory", "recall"), ("bench", "multihop"),
                                     ("bench", "needle"), ("bench", "speed"), ("kg", "build")])
def test_help_texts_have_no_stray_spaces_or_lost_defaults(command) -> None:
    text = _help(*command)
    assert not re.search(r"\w \.(?=\s|$)|\w ,|\( \)", text), text
    if command in (("ask",), ("retrieve",)):
        assert "(default: settings, hybrid)" in text and "(default: settings)" in text
    if command == ("documents", "list"):
        assert "(env RAGMEM_DATA_DIR; default ./ragmem-data)" in text


def test_k_means_top_k_everywhere() -> None:
    for command in (("ask",), ("retrieve",), ("memory", "recall"), ("memory", "archival")):
        assert "-k" in _help(*command) and "--top-k" in _help(*command)
    bench = _help("bench", "multihop")
    assert "--cutoffs" in bench and " -k " not in bench
