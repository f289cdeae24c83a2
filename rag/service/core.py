"""The service's use cases, shared by the CLI and the HTTP API.

It wires the store, the embedder, the index manager and the generator together and
validates what enters; the work itself lives in the modules it calls.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from indexes.embedder import Embedder
from rag.errors import InvalidInputError
from rag.generation.answers import Answer, AnswerEvent, stream_with_indexing, with_indexing
from rag.generation.extractive import ExtractiveGenerator
from rag.generation.factory import check_generator_name, make_answerer
from rag.indexing.manager import GeneratorJSON, IndexManager, Progress
from rag.ingest.documents import prepare_documents
from rag.ingest.parsers import ParsedDocument, parse_file, parse_records
from rag.ingest.ray_jobs import index_job
from rag.retrieval.base import (
    LLM_RETRIEVERS,
    RetrievedPassages,
    TracingRetriever,
    check_retriever_name,
)
from rag.retrieval.context import CalibrationCache, JSONGenerator, RetrievalContext
from rag.retrieval.factory import build_retriever
from rag.retrieval.pipeline import ask, retrieve, stream_found
from rag.service.memory import MemoryService
from rag.service.memory_ask import ask_with_memory, stream_with_memory
from rag.settings import Settings
from rag.storage.lock import DataDirLock, HeldLease, indexer_lease
from rag.storage.store import CollectionRow, Store

if TYPE_CHECKING:  # the KG package loads only when a graph is built (issue 19.7)
    from indexes.kg import LLMOpenIE

log = logging.getLogger(__name__)

DEFAULT_COLLECTION = "default"


class RagService:
    """Collections, documents, indexing jobs, retrieval and answers over one data dir."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = Store.for_settings(settings)  # store.url: SQLite file or PostgreSQL
        self.embedder = embedder or Embedder(
            settings.index.embedder, device=settings.index.device,
            batch_size=settings.index.batch_size, torch_threads=settings.index.torch_threads,
            backend=settings.index.embedder_backend,
            cache_dir=(settings.generation.models_dir or settings.data_dir / "models") / "embedder-onnx")
        lease = indexer_lease(self.store)  # replicas on PostgreSQL elect a collection's indexer
        self.replicated = not isinstance(lease, HeldLease)
        self.indexes = IndexManager(self.store, self.embedder, settings.data_dir / "collections",
                                    settings.index, settings.graph, openie=self._graph_openie,
                                    lease=lease, follow_interval=settings.index.follow_interval_s)
        self.generator = ExtractiveGenerator(self.embedder,
                                             max_sentences=settings.generation.max_sentences)
        self._answerers: dict[str, Any] = {self.generator.name: self.generator}
        self._answerers_lock = threading.Lock()
        self._calibrations = CalibrationCache()  # crag.json per collection, reread when rewritten
        self.memory = MemoryService(self.store, settings.data_dir / "memory", self.embedder,
                                    settings.memory)
        # SQLite: one process per data dir; replicas share it (the lease elects the writer)
        self.lock = DataDirLock(settings.data_dir)

    def open(self, *, load_embedder: bool = False) -> RagService:
        """Take the data dir's lock and create/migrate the database.

        The embedder's weights load on its first encode (its name and dim come from the
        model's config), so a command that never embeds starts without torch (issue 19.7);
        `load_embedder=True` loads them now (a server warming up before its first query).

        Raises:
            DataDirLockedError: when another process (or another open service) has the dir.
        """
        if not self.replicated:
            self.lock.acquire()
        opened = False
        try:
            self.store.connect()
            if load_embedder:
                self.embedder.load()
            opened = True
        finally:
            if not opened:
                self.lock.release()
        return self

    def close(self) -> None:
        """Write pending memory files, close this thread's connections, release the lock."""
        try:
            self.indexes.close()  # the merge thread: no index write after the lock is gone
            self.memory.close()
            self.store.close()
        finally:
            self.lock.release()

    # -- collections ----------------------------------------------------------
    def create_collection(self, name: str, *, owner_key_id: int | None = None) -> CollectionRow:
        """Create a collection pinned to the loaded embedder (owned by an API key, if any)."""
        row = self.store.create_collection(name, embedder=self.embedder.name, dim=self.embedder.dim,
                                           owner_key_id=owner_key_id)
        self.indexes.get(row)  # registered as live, so later uploads index in the background
        return row

    def recover(self) -> list[str]:
        """Load every collection's indexes, replaying ops their files lack (at start-up).

        Returns:
            The names of the collections loaded.
        """
        names = [c["name"] for c in self.store.list_collections()]
        for name in names:
            self.indexes.get(self.store.get_collection(name))
        return names

    def collection(self, name: str, *, create: bool = False) -> CollectionRow:
        """The collection called `name` (created when asked and absent)."""
        if create and name not in {c["name"] for c in self.store.list_collections()}:
            return self.create_collection(name)
        return self.store.get_collection(name)

    def delete_collection(self, name: str) -> None:
        """Delete a collection, its documents and its index files."""
        self.store.delete_collection(name)
        self.indexes.drop(name)

    # -- documents ------------------------------------------------------------
    def parse_files(self, files: Sequence[tuple[str, bytes]]) -> list[ParsedDocument]:
        """Parse uploaded files; any bad file fails the whole request before storing."""
        if not files:
            raise InvalidInputError("no files were sent")
        parsed: list[ParsedDocument] = []
        for name, data in files:
            parsed.extend(parse_file(name, data, max_bytes=self.settings.limits.max_upload_bytes))
        return parsed

    def parse_records(self, records: list[dict[str, Any]]) -> list[ParsedDocument]:
        """Validate JSON document records."""
        if not records:
            raise InvalidInputError("'documents' is empty")
        if len(records) > self.settings.limits.max_documents_per_request:
            raise InvalidInputError(f"too many documents in one request ({len(records)} > "
                                    f"{self.settings.limits.max_documents_per_request})")
        return parse_records(records, source="api")

    def add_documents(self, collection: CollectionRow, docs: Sequence[ParsedDocument],
                      ) -> tuple[str | None, list[dict[str, str]]]:
        """Commit documents and their chunks to SQLite and queue their indexing.

        Returns:
            (the indexing job id, or None when nothing new was stored; per-document status).
        """
        chunking = self.settings.chunking
        prepared = prepare_documents(docs, size=chunking.size, overlap=chunking.overlap)
        results, seq = self.store.add_documents(collection, prepared)
        if seq is None and not any(r["status"] == "updated" for r in results):
            return None, results
        total = sum(len(p.spans) for p, r in zip(prepared, results, strict=True)
                    if r["status"] != "duplicate")
        return self.store.create_job(collection, kind="index", total=total), results

    def run_job(self, job_id: str, progress: Progress | None = None) -> None:
        """Index what a job stands for (every pending op of its collection)."""
        collection = self.store.get_collection(self.store.get_job(job_id)["collection"])
        # RAGMEM_INDEX__ENGINE=ray: large jobs embed on a Ray cluster (rag/ingest/ray_jobs.py)
        self.run_tracked(job_id, lambda report: index_job(self, collection, report), progress)

    def run_index_jobs(self, collection: CollectionRow, job_ids: Sequence[str]) -> None:
        """Finish index jobs of one collection with one sync (it applies every pending op,
        so theirs too); the first job carries the progress."""
        first, *rest = job_ids
        self.run_tracked(first, lambda report: index_job(self, collection, report))
        for job_id in rest:
            self.store.update_job(job_id, status="done", done=self.store.get_job(job_id)["total"])

    def run_tracked(self, job_id: str, work: Callable[[Progress], Any],
                    progress: Progress | None = None) -> Any:
        """Run `work(report)` as a job: status, progress and outcome are kept in SQLite.

        A failure is recorded on the job and then propagates; a dict returned by `work`
        is stored as the job's result.
        """
        self.store.update_job(job_id, status="running")

        def report(done: int, total: int) -> None:
            self.store.update_job(job_id, done=done, total=max(total, done))
            if progress:
                progress(done, total)

        finished = False
        try:
            outcome = work(report)
            finished = True
        finally:
            if not finished:  # record why on the job; the error still propagates
                exc = sys.exc_info()[1]
                self.store.update_job(job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        fields: dict[str, Any] = {"status": "done", "done": self.store.get_job(job_id)["total"]}
        if isinstance(outcome, dict):
            fields["result"] = outcome
        self.store.update_job(job_id, **fields)
        return outcome

    def delete_document(self, collection: CollectionRow, doc_id: str) -> str | None:
        """Delete a document: gone from SQLite and the live indexes at once.

        Returns:
            The id of the job that persists the change to the index files.
        """
        chunk_ids = self.store.delete_document(collection, doc_id)
        self.indexes.apply_delete_now(collection, chunk_ids)
        return self.store.create_job(collection, kind="index", total=0)

    # -- questions ------------------------------------------------------------
    def _checked_k(self, text: str, top_k: int | None, what: str) -> int:
        """`top_k` (default: settings) once `text` and it are within the limits."""
        top_k = self.settings.retrieval.top_k if top_k is None else top_k
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"the {what} is empty")
        if len(text) > self.settings.limits.max_query_chars:
            raise InvalidInputError(f"the {what} is too long ({len(text)} > "
                                    f"{self.settings.limits.max_query_chars} characters)")
        if not 1 <= top_k <= self.settings.limits.max_top_k:
            raise InvalidInputError(f"top_k must be between 1 and "
                                    f"{self.settings.limits.max_top_k}, got {top_k}")
        return top_k

    def retriever(self, collection: CollectionRow, name: str | None, *,
                  generator: str | None = None) -> TracingRetriever:
        """The named retriever over a collection's live indexes.

        fusion, crag and adaptive get the LLM named `generator` (default: settings) for
        RAG-Fusion variants and CRAG grades, unless it is `extractive` (offline paths);
        the trace's `path` says which ran and `llm` names the generator."""
        name = name or self.settings.retrieval.retriever
        check_retriever_name(name)
        live = self.indexes.get(collection)
        if name == "hipporag" and live.kg is None:
            self.indexes.build_kg(collection)  # first use: the graph is built from SQLite
        # Chunk texts, the collection's CRAG calibration and the LLM, for fusion, crag, adaptive.
        llm = generator or self.settings.generation.generator
        json_llm = self.json_generator(llm) if name in LLM_RETRIEVERS else None
        context = RetrievalContext.for_collection(self.store.get_chunks,
                                                  self.indexes.folder(collection.name),
                                                  generator=json_llm, calibrations=self._calibrations)
        extra = {"llm": llm if json_llm is not None else None} if name in LLM_RETRIEVERS else {}
        return _Locked(build_retriever(name, live.indexes, self.settings.retrieval, context=context),
                       live.lock, extra)

    def json_generator(self, name: str | None = None) -> JSONGenerator | None:
        """The `generate_json` of the LLM called `name` (default: settings), started once;
        None for `extractive`, which has no LLM.

        Raises:
            InvalidInputError: for an unknown name.
            GeneratorUnavailableError, MissingDependencyError: when its model or library is missing.
        """
        name = check_generator_name(name or self.settings.generation.generator)
        if name == "extractive":
            return None
        backend = getattr(self.answerer(name), "generator", None)
        return backend if isinstance(backend, JSONGenerator) else None

    def retrieve(self, collection: CollectionRow, query: str, *, retriever: str | None = None,
                 top_k: int | None = None, generator: str | None = None,
                 ) -> RetrievedPassages:
        """Top passages for `query` with the retrieval trace (`generator`: see `retriever`)."""
        k = self._checked_k(query, top_k, "query")
        return retrieve(query, retriever=self.retriever(collection, retriever, generator=generator),
                        store=self.store, k=k)

    def ask(self, collection: CollectionRow, question: str, *, retriever: str | None = None,
            top_k: int | None = None, generator: str | None = None,
            session_id: str | None = None, document_id: str | None = None) -> Answer:
        """A cited answer to `question` from the collection, by the named generator
        (default: settings); the answer's `generator` names the backend that wrote it.
        With `session_id` the session's memory joins the passages and the turn is kept;
        with `document_id` the answer comes from that document's memory blocks."""
        k = self._checked_k(question, top_k, "question")
        if session_id is not None or document_id is not None:
            answer = ask_with_memory(self, collection, question, retriever=retriever, k=k,
                                     generator=generator, session_id=session_id,
                                     document_id=document_id)
        else:
            answer = ask(question, retriever=self.retriever(collection, retriever, generator=generator),
                         store=self.store, generator=self.answerer(generator), k=k)
        return with_indexing(answer, self.indexing_status(collection))

    def indexing_status(self, collection: CollectionRow) -> dict[str, Any] | None:
        """How many documents of `collection` wait to be indexed (not searchable yet) and
        the ids of the unfinished jobs indexing them; None when there are none."""
        pending = self.store.pending_documents(collection)
        jobs = [j["id"] for j in self.store.unfinished_jobs()
                if j["kind"] == "index" and j["collection"] == collection.name]
        return {"pending_documents": pending, "jobs": jobs} if pending else None

    def ask_stream(self, collection: CollectionRow, question: str, *, retriever: str | None = None,
                   top_k: int | None = None, generator: str | None = None,
                   session_id: str | None = None, document_id: str | None = None,
                   ) -> Iterator[AnswerEvent]:
        """`ask` as a stream: text pieces, then the whole answer (with its trace).

        Validation, retrieval or memory assembly and starting the generator happen now,
        so their errors raise here; generation runs as the events are read."""
        k = self._checked_k(question, top_k, "question")
        if session_id is not None or document_id is not None:
            events = stream_with_memory(self, collection, question, retriever=retriever, k=k,
                                        generator=generator, session_id=session_id,
                                        document_id=document_id)
        else:
            answerer = self.answerer(generator)
            found = retrieve(question, retriever=self.retriever(collection, retriever,
                                                                generator=generator),
                             store=self.store, k=k)
            events = stream_found(answerer, question, found)
        return stream_with_indexing(events, self.indexing_status(collection))

    def _graph_openie(self) -> LLMOpenIE | None:
        """OpenIE for knowledge graphs: HippoRAG's NER and triple prompts through the
        configured LLM (`json_generator`, started only when a graph extracts or links a
        question); None (offline spaCy) when the generator is extractive."""
        if self.settings.generation.generator == "extractive":
            return None
        from indexes.kg import LLMOpenIE

        return LLMOpenIE(GeneratorJSON(self.json_generator))

    def answerer(self, name: str | None = None) -> Any:
        """The loaded answer generator called `name` (default: settings), started once.

        Raises:
            InvalidInputError: for an unknown name.
            GeneratorUnavailableError, MissingDependencyError: when its model or library is missing.
        """
        name = check_generator_name(name or self.settings.generation.generator)
        with self._answerers_lock:  # one engine per backend, even under concurrent first use
            if name not in self._answerers:
                made = make_answerer(name, self.settings.generation, embedder=self.embedder,
                                     models_dir=self.settings.data_dir / "models")
                self._answerers[name] = made.load()
            return self._answerers[name]


class _Locked:
    """Runs a retriever under its collection's read lock, so writers never interleave."""

    def __init__(self, inner: TracingRetriever, lock: Any, extra: dict[str, Any] | None = None,
                 ) -> None:
        self.inner = inner
        self.lock = lock
        self.extra = extra or {}  # added to every trace (e.g. which LLM the retriever had)

    def retrieve(self, query: str, k: int):  # noqa: ANN201 - same as the inner retriever
        with self.lock:
            result = self.inner.retrieve(query, k)
        if self.extra:
            result.trace.update(self.extra)
        return result

    def search(self, query: str, k: int):  # noqa: ANN201
        return self.retrieve(query, k).hits
