"""Pure helpers of ask-through-memory: merging pieces, ordering passages, document shape."""

from __future__ import annotations

import pytest

from memory.assembly import AssembledContext, AssemblyConfig, Piece
from memory.sessions import SessionContext
from rag.generation.answers import NO_ANSWER, Passage
from rag.service.memory import MemoryService, document_shape
from rag.service.memory_ask import by_score, merge_pieces, session_chunk_id, session_passages
from rag.settings import MemorySettings
from rag.storage.store import Store

pytestmark = pytest.mark.unit


def test_merge_joins_contiguous_pieces_of_one_source():
    text = "abcdefghij"
    pieces = [Piece("sink", 0, "d", 0, 2, 1, None, text[0:2]),
              Piece("block", 1, "d", 2, 5, 1, 0.7, text[2:5]),
              Piece("block", 3, "d", 7, 9, 1, 0.9, text[7:9]),
              Piece("local", 4, "d", 9, 10, 1, None, text[9:10]),
              Piece("local", 0, "e", 10, 11, 1, None, "x")]
    merged = merge_pieces(pieces)
    assert [(p.start, p.end, p.score, p.kind) for p in merged] == [
        (0, 5, 0.7, "block"), (7, 10, 0.9, "block"), (10, 11, None, "local")]
    assert all(text[p.start:p.end] == p.text for p in merged[:2])
    assert [p.n_tokens for p in merged] == [2, 2, 1]


def test_by_score_puts_unscored_last_in_order():
    def passage(n: int) -> Passage:
        return Passage(n, "d", "t", "x", 0, 1, 0.0)

    ordered = by_score([(None, passage(0)), (0.2, passage(1)), (0.9, passage(2)), (None, passage(3))])
    assert [p.chunk_id for p in ordered] == [2, 1, 0, 3]


@pytest.mark.parametrize("budget", [256, 1536, 4096, 20000])
def test_document_shape_fits_the_budget(budget):
    shape = document_shape(AssemblyConfig(), budget)
    assert shape.top_k >= 1
    assert shape.n_init + shape.n_local + shape.top_k * shape.block_tokens <= max(budget, 128 + 8)
    assert shape.n_local <= budget // 8


def message_piece(seq: int, role: str, content: str, score: float | None) -> Piece:
    record = f"{role}: {content}"
    return Piece("block", 100 + seq, f"message:{seq}", 0, len(record), 5, score, record)


TURNS = [(0, "user", "What is my name?"), (1, "assistant", NO_ANSWER),
         (2, "user", "My gym locker is number 4417."), (3, "assistant", "Your locker is 4417 [1]")]


def session_context(core: dict[str, str]) -> SessionContext:
    pieces = tuple(message_piece(seq, role, text, 0.9 - seq / 10) for seq, role, text in TURNS)
    return SessionContext("s1", core, [], AssembledContext(pieces, 20, 100), 30, 100,
                          roles={seq: role for seq, role, _ in TURNS})


def test_session_passages_cite_facts_not_the_users_questions():
    """Issue 19.6: core facts are evidence (first); a user's earlier question and an
    earlier abstention are not; each message has its own stable negative chunk id."""
    passages = session_passages("s1", session_context({"name": "Ada", "city": "Porto"}))
    assert [p.text for p in passages] == ["name: Ada", "city: Porto",
                                          "My gym locker is number 4417.", "Your locker is 4417 [1]"]
    assert all(p.document_id == "session:s1" for p in passages)
    assert [p.title for p in passages[2:]] == ["message:2", "message:3"]
    locker = passages[2]  # offsets into the message's content, without "user: "
    assert (locker.start, locker.end) == (0, len(locker.text))
    ids = [p.chunk_id for p in passages[2:]]
    assert ids == [session_chunk_id("message:2"), session_chunk_id("message:3")] == [-6, -8]
    assert len({session_chunk_id(f"message:{n}") for n in range(50)}
               | {session_chunk_id(f"archival:{n}") for n in range(50)}) == 100
    assert all(session_chunk_id(f"message:{n}") < -1 for n in range(50))


@pytest.mark.integration
def test_session_ask_answers_from_core_memory_not_the_question(tmp_path, embedder):
    """Issue 19.6 end to end over real session memory and the extractive answerer."""
    from rag.generation.extractive import ExtractiveGenerator

    store = Store(tmp_path / "ragmem.sqlite3").connect()
    memory = MemoryService(store, tmp_path / "memory", embedder, MemorySettings()).open()
    try:
        session = memory.create_session("me")["id"]
        memory.set_core(session, "name", "Ada")
        memory.add_messages(session, [("user", "What is my name?"), ("assistant", NO_ANSWER)])
        ctx = memory.context(session, "What is my name?", budget=512)
        assert ctx.roles == {0: "user", 1: "assistant"}
        answer = ExtractiveGenerator(embedder).answer("What is my name?",
                                                      session_passages(session, ctx))
    finally:
        memory.close()
        store.close()
    assert "Ada" in answer.answer and not answer.abstained
    assert all("What is my name?" not in c.text for c in answer.citations), answer.answer


def test_with_indexing_says_documents_are_pending():
    """Issue 19.4: an abstention while documents are pending names them and their jobs."""
    from rag.generation.answers import Answer, with_indexing

    pending = {"pending_documents": 2, "jobs": ["j1"]}
    answer = with_indexing(Answer(NO_ANSWER, [], True, "extractive"), pending)
    assert answer.answer.startswith(NO_ANSWER) and "2 documents are still being indexed" in answer.answer
    assert "j1" in answer.answer and answer.to_dict()["indexing"] == pending
    found = with_indexing(Answer("Paris [1]", [], False, "extractive"), pending)
    assert found.answer == "Paris [1]" and found.indexing == pending  # field only
    assert "indexing" not in with_indexing(Answer(NO_ANSWER, [], True, "x"), None).to_dict()


@pytest.mark.integration
def test_ask_while_indexing_reports_pending_documents(tmp_path, embedder, capsys):
    """Issue 19.4 through the service, the HTTP schema and the CLI's printout."""
    from api.schemas import AskResponse
    from rag.cli.query import _print_answer
    from rag.service.core import RagService
    from rag.settings import Settings

    service = RagService(Settings(data_dir=tmp_path), embedder=embedder).open()
    try:
        collection = service.collection("kb", create=True)
        job_id, _ = service.add_documents(collection, service.parse_records([
            {"id": "tower", "title": "Eiffel Tower", "text": "The Eiffel Tower is in Paris."}]))
        answer = service.ask(collection, "Where is the Eiffel Tower?")
        assert answer.abstained, answer.answer
        assert answer.indexing == {"pending_documents": 1, "jobs": [job_id]}
        assert "1 document is still being indexed" in answer.answer and job_id in answer.answer
        payload = AskResponse(**answer.to_dict()).model_dump(mode="json")
        assert payload["indexing"] == {"pending_documents": 1, "jobs": [job_id]}
        _print_answer(answer.to_dict())
        printed = " ".join(capsys.readouterr().err.split())  # the CLI's console is stderr
        assert f"1 document(s) pending, job(s) {job_id}" in printed
        events = list(service.ask_stream(collection, "Where is the Eiffel Tower?"))
        final = events[-1].answer
        assert "".join(e.text for e in events[:-1]) == final.answer and final.indexing
        service.run_job(job_id)
        done = service.ask(collection, "Where is the Eiffel Tower?")
        assert not done.abstained and done.indexing is None and "indexed" not in done.answer
        assert "indexing" not in AskResponse(**done.to_dict()).model_dump(mode="json")
    finally:
        service.close()
