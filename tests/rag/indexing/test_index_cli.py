"""`ragmem index stats|merge|verify` end to end: CliRunner on api.cli.app, a tmp data dir,
the real service and MiniLM."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag.service.core
from api.cli import app
from rag.indexing.manifest import read_manifest

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[2] / "data" / "kg" / "corpus.jsonl"


@pytest.fixture
def cli(embedder, tmp_path, monkeypatch):
    """Run `ragmem ARGS... --data-dir DIR`; collection `kb` holds the corpus in two segments
    (two ingests, background merges off) and one deleted document."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("RAGMEM_INDEX__BACKGROUND_MERGES", "false")
    monkeypatch.setattr(rag.service.core, "RagService",
                        functools.partial(rag.service.core.RagService, embedder=embedder))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [*args, "--data-dir", str(data_dir)], catch_exceptions=False)

    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    for n, part in enumerate((lines[:4], lines[4:])):
        path = tmp_path / f"part{n}.jsonl"
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
        assert run("ingest", str(path), "--collection", "kb").exit_code == 0
    first = json.loads(lines[0])["id"]
    assert run("documents", "delete", first, "--collection", "kb").exit_code == 0
    run.data_dir = data_dir  # type: ignore[attr-defined]
    run.total = len(lines)  # type: ignore[attr-defined]
    return run


def as_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_stats_merge_verify(cli) -> None:
    stats = as_json(cli("index", "stats", "--collection", "kb", "--json"))
    assert len(stats["segments"]) == 2 and stats["tombstones"] >= 1
    assert stats["rows"] - stats["tombstones"] == stats["chunks"]
    assert all(s["name"].startswith("seg-") and s["bytes"] > 0 for s in stats["segments"])

    merged = as_json(cli("index", "merge", "--collection", "kb", "--json"))
    assert merged["merged"] and len(merged["segments"]) == 1
    assert merged["tombstones"] == 0 and merged["rows"] == stats["chunks"]
    again = as_json(cli("index", "merge", "--collection", "kb", "--json"))
    assert not again["merged"]  # one segment, no tombstones: nothing to do

    ok = as_json(cli("index", "verify", "--collection", "kb", "--json"))
    assert ok == {"collection": "kb", "ok": True, "problems": []}


def test_verify_fails_on_a_changed_byte(cli) -> None:
    root = cli.data_dir / "collections" / "kb"
    path = root / next(iter(read_manifest(root)["segments"][0]["files"]))
    data = bytearray(path.read_bytes())
    data[200] ^= 0x01  # same size: open would not notice, verify must
    path.write_bytes(bytes(data))
    result = cli("index", "verify", "--collection", "kb", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"] == [f"{path}: checksum mismatch"]
    assert cli("index", "verify", "--collection", "kb").exit_code == 1


def test_unknown_collection_is_a_clear_error(cli) -> None:
    result = cli("index", "stats", "--collection", "nope")
    assert result.exit_code == 3 and "nope" in result.output
