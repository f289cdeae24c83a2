"""`Ragmem`: the Python entry point, a context manager over one data dir.

    from rag import Ragmem

    with Ragmem("./ragmem-data") as rm:
        rm.add(["Paris is the capital of France."], collection="notes")
        answer = rm.ask("What is the capital of France?", collection="notes")
        print(answer.answer, answer.citations[0].document_id)

It wires what the CLI and the server wire (settings, the service, collections, indexing
jobs) and returns typed results; everything runs in this process, offline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import InvalidInputError
from rag.generation.answers import Answer
from rag.ingest.parsers import ParsedDocument
from rag.retrieval.base import RetrievedPassages
from rag.service.core import DEFAULT_COLLECTION, RagService
from rag.settings import Settings, offline_environment
from rag.storage.rows import CollectionRow

if TYPE_CHECKING:
    from indexes.embedder import Embedder



Retrieval = RetrievedPassages  # the passages found for a query, best first, and the trace


@dataclass(frozen=True)
class AddResult:
    """What `Ragmem.add` stored: one status per document (`added`, `updated`,
    `duplicate`) and the indexing job (None when nothing new was stored)."""

    documents: list[dict[str, str]]
    job_id: str | None


class Ragmem:
    """Collections of documents with cited answers over them, in one data dir.

    Args:
        data_dir: where the SQLite file and the index files live (default: settings).
        settings: full settings instead (`data_dir` overrides its data dir when given).
        embedder: an embedder already loaded (shared between instances), else the settings'.
    """

    def __init__(self, data_dir: str | Path | None = None, *, settings: Settings | None = None,
                 embedder: Embedder | None = None) -> None:
        offline_environment()
        settings = settings or Settings()
        if data_dir is not None:
            settings = settings.model_copy(update={"data_dir": Path(data_dir)})
        self.settings = settings
        self._embedder = embedder
        self._service: RagService | None = None

    # -- lifecycle ------------------------------------------------------------
    def open(self) -> Ragmem:
        """Take the data dir (its lock), migrate the database and load the embedder."""
        if self._service is None:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            service = RagService(self.settings, embedder=self._embedder).open()
            self._service = service
        return self

    def close(self) -> None:
        """Release the data dir."""
        if self._service is not None:
            self._service.close()
            self._service = None

    def __enter__(self) -> Ragmem:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def service(self) -> RagService:
        """The service underneath (opened on first use)."""
        return self.open()._service  # type: ignore[return-value]

    # -- writes ---------------------------------------------------------------
    def add(self, items: str | Path | Iterable[str | Path | dict[str, Any]], *,
            collection: str = DEFAULT_COLLECTION, wait: bool = True) -> AddResult:
        """Store documents and index them.

        Args:
            items: texts, paths of files (txt, md, html, pdf, docx, json, jsonl) or records
                `{"text", "title"?, "id"?, "metadata"?}`; one item alone is allowed.
            collection: created when missing.
            wait: return once the documents are indexed (else they are committed and the
                job id is returned for `service.run_job`).
        """
        service = self.service
        target = service.collection(collection, create=True)
        job_id, results = service.add_documents(target, self._parse(items))
        if wait and job_id is not None:
            service.run_job(job_id)
        return AddResult(results, job_id)

    def delete(self, document_id: str, *, collection: str = DEFAULT_COLLECTION) -> None:
        """Delete a document: gone from the store and the indexes when this returns."""
        service = self.service
        job_id = service.delete_document(self._collection(collection), document_id)
        if job_id is not None:
            service.run_job(job_id)

    # -- questions ------------------------------------------------------------
    def retrieve(self, query: str, *, collection: str = DEFAULT_COLLECTION,
                 retriever: str | None = None, top_k: int | None = None) -> Retrieval:
        """The top passages for `query` (retriever and top_k default to the settings)."""
        return self.service.retrieve(self._collection(collection), query,
                                     retriever=retriever, top_k=top_k)

    def ask(self, question: str, *, collection: str = DEFAULT_COLLECTION,
            retriever: str | None = None, top_k: int | None = None,
            generator: str | None = None) -> Answer:
        """A cited answer (or an abstention, `answer.abstained`) from the collection."""
        return self.service.ask(self._collection(collection), question, retriever=retriever,
                                top_k=top_k, generator=generator)

    def collections(self) -> list[dict[str, Any]]:
        """Every collection with its counts."""
        return self.service.store.list_collections()

    # -- helpers --------------------------------------------------------------
    def _collection(self, name: str) -> CollectionRow:
        return self.service.collection(name)

    def _parse(self, items: str | Path | Iterable[str | Path | dict[str, Any]],
               ) -> list[ParsedDocument]:
        if isinstance(items, (str, Path, dict)):
            items = [items]
        service = self.service
        docs: list[ParsedDocument] = []
        texts: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, Path):
                docs.extend(service.parse_files([(item.name, item.read_bytes())]))
            elif isinstance(item, dict):
                texts.append(item)
            elif isinstance(item, str):
                texts.append({"text": item})
            else:
                raise InvalidInputError(f"cannot add a {type(item).__name__}: give a text, a "
                                        "Path or a record dict")
        if texts:
            docs.extend(service.parse_records(texts))
        if not docs:
            raise InvalidInputError("nothing to add")
        return docs

