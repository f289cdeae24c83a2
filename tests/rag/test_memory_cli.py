"""`ragmem memory ...`, `ragmem ask --session/--document` and `ragmem bench needle|longctx`
(CliRunner, a tmp data dir, the session's MiniLM)."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import indexes.embedder
import rag.service.core
from api.cli import app

pytestmark = pytest.mark.integration

ESSAYS = Path(__file__).resolve().parents[1] / "data" / "memory" / "essays"


@pytest.fixture(scope="module")
def cli(embedder, tmp_path_factory):
    """Run `ragmem ARGS... --data-dir DIR --json` and parse stdout; the model is loaded once."""
    data_dir = tmp_path_factory.mktemp("memory-cli")
    patch = pytest.MonkeyPatch()
    service_cls = functools.partial(rag.service.core.RagService, embedder=embedder)
    patch.setattr(rag.service.core, "RagService", service_cls)
    patch.setattr(indexes.embedder, "Embedder", lambda *args, **kwargs: embedder)
    runner = CliRunner()

    def run(*args: str, code: int = 0, lines: bool = False):
        """Parsed stdout; `lines`: one JSON object per line (streamed events)."""
        result = runner.invoke(app, [*args, "--data-dir", str(data_dir), "--json"],
                               catch_exceptions=False)
        assert result.exit_code == code, result.output
        if code != 0:
            return result
        if lines:
            return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        return json.loads(result.stdout)

    yield run
    patch.undo()


def test_memory_commands(cli):
    sid = cli("memory", "sessions", "create", "--name", "trip", "--metadata", '{"k": 1}')["id"]
    assert cli("memory", "add", sid, "I am allergic to peanuts.")["messages"][0]["seq"] == 0
    cli("memory", "add", sid, "--role", "assistant", "Noted, no peanuts.")
    cli("memory", "add", sid, "My train to Vienna leaves from platform 9.")
    assert cli("memory", "core", sid, "--set", "name=Ada", "--set", "city=Turin")["core"] == {
        "city": "Turin", "name": "Ada"}
    assert cli("memory", "core", sid, "--delete", "city")["core"] == {"name": "Ada"}
    cli("memory", "archival", sid, "insert", "The hotel in Vienna is the Hotel Sacher.")
    found = cli("memory", "archival", sid, "search", "which hotel in Vienna", "--k", "1")
    assert found["results"][0]["text"] == "The hotel in Vienna is the Hotel Sacher."
    recalled = cli("memory", "recall", sid, "what food allergy do I have")
    assert recalled["results"][0]["text"] == "user: I am allergic to peanuts."
    ctx = cli("memory", "context", sid, "--query", "which platform is the train", "--budget", "300")
    assert ctx["n_tokens"] <= 300 and any("platform 9" in p["text"] for p in ctx["pieces"])
    assert {p["tier"] for p in ctx["pieces"]} >= {"core", "recall"}
    shown = cli("memory", "sessions", "show", sid)
    assert shown["counts"] == {"messages": 3, "core": 1, "archival": 1} and shown["metadata"] == {"k": 1}
    assert sid in {s["id"] for s in cli("memory", "sessions", "list")["sessions"]}
    assert len(cli("memory", "messages", sid)["messages"]) == 3
    cli("memory", "sessions", "delete", sid)
    cli("memory", "sessions", "show", sid, code=3)
    cli("memory", "add", "nope", "hello", code=3)


def test_memory_bad_input(cli):
    sid = cli("memory", "sessions", "create")["id"]
    cli("memory", "add", sid, "--role", "robot", "hi", code=2)
    cli("memory", "core", sid, "--set", "no-equals-sign", code=2)
    cli("memory", "context", sid, "--query", "x", "--budget", "0", code=2)
    cli("memory", "sessions", "create", "--metadata", "[1, 2]", code=2)


def test_ask_with_session_and_document(cli, tmp_path):
    doc = tmp_path / "manual.txt"
    filler = "Routine maintenance notes follow the usual checklist for the pumps and valves. " * 4
    paragraphs = [f"Part {i}. {filler}" for i in range(40)]
    paragraphs.insert(23, "The emergency shutoff valve is behind the blue door in room B12.")
    doc.write_text("\n\n".join(paragraphs), encoding="utf-8")
    ingested = cli("ingest", str(doc), "--collection", "manuals")
    doc_id = ingested["documents"][0]["id"]
    question = "Where is the emergency shutoff valve?"
    answer = cli("ask", question, "-c", "manuals", "--document", doc_id)
    assert answer["retrieval"]["mode"] == "memory" and "B12" in answer["answer"]
    assert "room B12" in answer.get("supporting_text", answer["answer"])
    text = cli("documents", "show", doc_id, "-c", "manuals")["text"]
    assert all(text[c["start"]:c["end"]] == c["text"] for c in answer["citations"])

    streamed = cli("ask", question, "-c", "manuals", "--document", doc_id, "--stream", lines=True)
    assert [e["event"] for e in streamed[:-1]] == ["token"] * (len(streamed) - 1)
    done = streamed[-1]
    assert done["event"] == "done" and done["answer"] == answer["answer"]
    assert "".join(e["text"] for e in streamed[:-1]) == done["answer"]
    assert done["citations"] == answer["citations"] and done["retrieval"]["mode"] == "memory"

    sid = cli("memory", "sessions", "create", "-c", "manuals")["id"]
    answer = cli("ask", question, "--session", sid)  # no -c: the session's collection
    assert answer["retrieval"]["mode"] == "session" and "B12" in answer["answer"]
    assert "room B12" in answer.get("supporting_text", answer["answer"])
    streamed = cli("ask", "And where is that door?", "--session", sid, "--stream", lines=True)
    assert streamed[-1]["event"] == "done" and streamed[-1]["retrieval"]["mode"] == "session"
    turns = cli("memory", "messages", sid)["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 2 and turns[0]["content"] == question
    assert turns[3]["content"] == streamed[-1]["answer"]
    cli("collections", "create", "other")
    cli("ask", question, "-c", "other", "--session", sid, code=2)  # bound to manuals
    cli("ask", question, "--session", "nope", code=3)
    cli("ask", question, "-c", "manuals", "--document", "nope", "--stream", code=3)


def test_bench_needle_on_a_tiny_haystack(cli, tmp_path):
    result = cli("bench", "needle", "--tokens", "4000", "--depths", "0,0.5,1", "--repeats", "1",
                 "--essays", str(ESSAYS), "--budget", "1024", "--out", str(tmp_path))
    summary = result["summary"]["4000"]
    assert summary["recall"] == 1.0
    assert {"recall", "lookup_ms_p50", "lookup_ms_p95", "build_s", "peak_rss_mb"} <= set(summary)
    assert [r["depth"] for r in result["results"]] == [0.0, 0.5, 1.0]
    assert (tmp_path / "needle-1.json").exists()
    cli("bench", "needle", "--tokens", "4000", "--depths", "2", "--essays", str(ESSAYS), code=2)
    cli("bench", "needle", "--tokens", "x", "--essays", str(ESSAYS), code=2)


def test_bench_longctx_kv(cli, tmp_path):
    path = tmp_path / "kv-retrieval-3_keys.jsonl.gz"
    records = [[f"key-{i:04d}-{j}", f"value-{i:04d}-{j}"] for i in range(3) for j in range(60)]
    with gzip.open(path, "wt") as fh:
        for i in range(2):
            fh.write(json.dumps({"ordered_kv_records": records, "key": records[40 + i][0],
                                 "value": records[40 + i][1]}) + "\n")
    result = cli("bench", "longctx", str(path), "--limit", "2", "--budget", "512")
    assert result["summary"]["kv-retrieval-3_keys.jsonl.gz"]["cases"] == 2
    assert result["summary"]["kv-retrieval-3_keys.jsonl.gz"]["recall"] == 1.0
    cli("bench", "longctx", str(tmp_path / "missing.jsonl.gz"), code=2)
