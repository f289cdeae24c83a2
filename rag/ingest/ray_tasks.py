"""What runs inside Ray (issue 15): parse + chunk one file per task, embed in actors.

The functions here are the local path's own (`parse_file`, `prepare_documents`, the
chunk's `indexed_text`), so a document parsed on a Ray worker has the same text, title,
spans and content hash as one parsed by `ragmem ingest`, and its chunks embed the same
strings. Rows are flat dicts of plain values (strings, ints, bytes) so Ray Data keeps
them in Arrow blocks; nothing here imports Ray.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexes.base import Chunk
from rag.errors import InvalidInputError
from rag.ingest.documents import prepare_documents
from rag.ingest.parsers import parse_file
from rag.storage.rows import NewDocument

# One row per parsed document (or one per file that failed: `error` set, the rest empty).
EMPTY_DOC = {"text": "", "title": "", "source": "", "metadata": "{}", "content_hash": "",
             "external_id": "", "spans": "[]", "error": ""}


def document_row(file: int, doc: NewDocument) -> dict[str, Any]:
    """A prepared document as a Ray Data row (metadata and spans as JSON)."""
    return {"file": file, "text": doc.text, "title": doc.title, "source": doc.source,
            "metadata": json.dumps(doc.metadata, ensure_ascii=False),
            "content_hash": doc.content_hash, "external_id": doc.external_id or "",
            "spans": json.dumps([list(s) for s in doc.spans]), "error": ""}


def row_document(row: dict[str, Any]) -> NewDocument:
    """The `NewDocument` a row stands for (the inverse of `document_row`)."""
    return NewDocument(text=str(row["text"]), title=str(row["title"]), source=str(row["source"]),
                       metadata=json.loads(row["metadata"]), content_hash=str(row["content_hash"]),
                       spans=[(int(s), int(e)) for s, e in json.loads(row["spans"])],
                       external_id=str(row["external_id"]) or None)


def parse_path_rows(item: dict[str, Any], *, size: int, overlap: int, max_bytes: int,
                    ) -> list[dict[str, Any]]:
    """Read, parse and chunk one file (a Ray Data `flat_map` task).

    A file the parsers refuse becomes one row with `error` set, as the local path
    reports it per file and carries on.
    """
    path = Path(str(item["path"]))
    file = int(item["file"])
    try:
        docs = parse_file(path.name, path.read_bytes(), max_bytes=max_bytes)
    except (InvalidInputError, OSError) as exc:
        return [{**EMPTY_DOC, "file": file, "path": str(path),
                 "error": f"{path}: {exc}" if isinstance(exc, OSError) else str(exc)}]
    return [{**document_row(file, d), "path": str(path)}
            for d in prepare_documents(docs, size=size, overlap=overlap)]


def chunk_texts(row: dict[str, Any]) -> list[str]:
    """The strings the index embeds for a document's chunks (title + text, as `Chunk`)."""
    text, title = str(row["text"]), str(row["title"])
    return [Chunk(0, text[s:e], title).indexed_text for s, e in json.loads(row["spans"])]


def split_vectors(vectors: np.ndarray, counts: Sequence[int]) -> list[bytes]:
    """(sum(counts), dim) vectors cut into one float32 byte string per document."""
    out, start = [], 0
    for n in counts:
        out.append(np.ascontiguousarray(vectors[start:start + n], dtype=np.float32).tobytes())
        start += n
    if start != len(vectors):
        raise ValueError(f"{len(vectors)} vectors for {start} chunks")
    return out


def join_vectors(blob: bytes, dim: int) -> np.ndarray:
    """One document's vectors back from `split_vectors`' bytes."""
    return np.frombuffer(blob, dtype=np.float32).reshape(-1, dim)


class _Embedding:
    """One model load per actor: the embedder of the service's settings, on the actor's GPU
    when Ray gave it one (the torch backend then takes the GPU stream path)."""

    def __init__(self, embedder: dict[str, Any], *, gpus: float = 0.0) -> None:
        from indexes.embedder import Embedder

        settings = dict(embedder)
        if gpus > 0:
            settings["device"] = "cuda"
        self.embedder = Embedder(settings.pop("model"), **settings).load()

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


class EmbedDocuments(_Embedding):
    """Ray Data actor: a batch of document rows gains `vectors` (bytes per row).

    Rows whose content hash the collection already holds (a rerun after a kill) are not
    embedded: the driver's commit finds them duplicates, so their vectors are never used.
    """

    def __init__(self, embedder: dict[str, Any], *, gpus: float = 0.0,
                 known: frozenset[str] = frozenset()) -> None:
        super().__init__(embedder, gpus=gpus)
        self.known = known

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        rows = [dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)]
        texts = [chunk_texts(r) if not r["error"] and r["content_hash"] not in self.known else []
                 for r in rows]
        flat = [t for ts in texts for t in ts]
        vectors = self.encode(flat) if flat else np.zeros((0, 1), dtype=np.float32)
        out = {key: list(values) for key, values in batch.items()}
        out["vectors"] = split_vectors(vectors, [len(ts) for ts in texts])
        out["embedded"] = [bool(ts) for ts in texts]
        return out


class EmbedChunks(_Embedding):
    """Ray Data actor for stored chunks (the server's path): `text` -> `vector` bytes."""

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        vectors = self.encode([str(t) for t in batch["text"]])
        return {"id": [int(i) for i in batch["id"]],
                "vector": split_vectors(vectors, [1] * len(vectors))}


def embedder_kwargs(index: Any, *, threads: int | None) -> dict[str, Any]:
    """The `Embedder` arguments an actor needs, from the service's `IndexSettings`."""
    return {"model": index.embedder, "device": index.device, "batch_size": index.batch_size,
            "torch_threads": index.torch_threads or threads, "backend": index.embedder_backend}


def offline_env() -> dict[str, str]:
    """Environment for Ray workers: no model-hub downloads, as in this process."""
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")
    return {k: os.environ.get(k, "false" if k == "TOKENIZERS_PARALLELISM" else "1") for k in keys}
