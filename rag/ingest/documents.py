"""Parsed documents -> hashed, chunked documents ready for the store."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from rag.ingest.chunking import chunk_text
from rag.ingest.parsers import ParsedDocument
from rag.storage.store import NewDocument


def content_hash(doc: ParsedDocument) -> str:
    """SHA-256 of the title and text: two records with the same text but different titles
    (common in benchmark corpora) are different documents."""
    return hashlib.sha256(f"{doc.title}\x00{doc.text}".encode()).hexdigest()


def prepare_documents(docs: Sequence[ParsedDocument], *, size: int, overlap: int,
                      ) -> list[NewDocument]:
    """Hash and chunk parsed documents."""
    return [
        NewDocument(text=d.text, title=d.title, source=d.source, metadata=d.metadata,
                    content_hash=content_hash(d), spans=chunk_text(d.text, size=size,
                                                                   overlap=overlap),
                    external_id=d.external_id)
        for d in docs
    ]
