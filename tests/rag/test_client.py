"""`rag.Ragmem`, the Python entry point, on a real data dir with the real embedder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rag import Answer, Ragmem, Retrieval
from rag.errors import DataDirLockedError, InvalidInputError, NotFoundError

pytestmark = pytest.mark.integration

TEXTS = ["The Eiffel Tower in Paris was finished in 1889.",
         {"id": "rome", "text": "The Colosseum is in Rome. It held about 50,000 people."}]


def test_add_ask_retrieve_delete(tmp_path: Path, embedder) -> None:
    note = tmp_path / "volcano.md"
    note.write_text("# Etna\n\nMount Etna is an active volcano on Sicily.\n", encoding="utf-8")
    with Ragmem(tmp_path / "data", embedder=embedder) as rm:
        added = rm.add([*TEXTS, note], collection="notes")
        assert [d["status"] for d in added.documents] == ["created"] * 3
        assert added.job_id is not None
        answer = rm.ask("When was the Eiffel Tower finished?", collection="notes")
        assert isinstance(answer, Answer) and not answer.abstained
        assert any("1889" in c.text for c in answer.citations)
        hits = rm.retrieve("Colosseum Rome", collection="notes", retriever="bm25", top_k=1)
        assert isinstance(hits, Retrieval) and hits.trace["retriever"] == "bm25"
        assert hits.passages[0].document_id == "rome"
        assert rm.retrieve("Sicily volcano", collection="notes", top_k=1).passages[0].title == "Etna"
        rm.delete("rome", collection="notes")
        left = rm.retrieve("Colosseum Rome", collection="notes", retriever="bm25", top_k=3)
        assert "rome" not in {p.document_id for p in left.passages}
        assert {c["name"]: c["documents"] for c in rm.collections()}["notes"] == 2
    # Reopened: what was indexed is still there.
    with Ragmem(tmp_path / "data", embedder=embedder) as rm:
        again = rm.add(TEXTS[0], collection="notes")
        assert [d["status"] for d in again.documents] == ["duplicate"] and again.job_id is None


def test_bad_input_and_unknown_collection(tmp_path: Path, embedder) -> None:
    with Ragmem(tmp_path / "data", embedder=embedder) as rm:
        with pytest.raises(InvalidInputError):
            rm.add([], collection="c")
        with pytest.raises(InvalidInputError):
            rm.add([b"bytes"], collection="c")  # type: ignore[list-item]
        with pytest.raises(NotFoundError):
            rm.ask("anything?", collection="missing")


def test_wait_false_returns_after_the_commit(tmp_path: Path, embedder) -> None:
    with Ragmem(tmp_path / "data", embedder=embedder) as rm:
        added = rm.add(TEXTS, collection="c", wait=False)
        assert rm.service.store.get_job(added.job_id)["status"] == "queued"
        rm.service.run_job(added.job_id)
        assert rm.service.store.get_job(added.job_id)["status"] == "done"


def test_the_data_dir_is_held_while_open(tmp_path: Path, embedder) -> None:
    with Ragmem(tmp_path / "data", embedder=embedder):
        with pytest.raises(DataDirLockedError):
            Ragmem(tmp_path / "data", embedder=embedder).open()


@pytest.mark.unit
def test_importing_rag_loads_no_model() -> None:
    code = "import sys, rag; print('torch' in sys.modules, 'rag.service.core' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
