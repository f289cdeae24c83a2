"""HippoRAG's precomputed OpenIE files: read them and match their passages to our chunks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from indexes.base import Chunk
from indexes.errors import IndexFormatError
from indexes.kg.openie import OpenIEResult, normalize_entity, text_hash


@dataclass(frozen=True)
class HippoRAGDoc:
    """One passage of a HippoRAG OpenIE file: its title, text, full passage and result."""

    title: str
    text: str
    passage: str
    result: OpenIEResult


def read_hipporag_docs(path: Path, *, source: str = "import") -> list[HippoRAGDoc]:
    """Read a HippoRAG OpenIE results file (`{"docs": [{passage, extracted_entities, ...}]}`).

    HippoRAG indexes a passage as `title + "\\n" + text`; docs without `title`/`text`
    fields get them by splitting `passage` at its first newline.

    Args:
        path: the JSON file HippoRAG wrote (v1 `openie_*_results_*.json` or v2
            `openie_results_*.json`, whose docs carry `passage` or `idx`/`passage`).
        source: the source name recorded in the results.

    Raises:
        IndexFormatError: when the file is not HippoRAG's format.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IndexFormatError(f"{path}: unreadable OpenIE file ({exc})") from exc
    docs = data.get("docs") if isinstance(data, dict) else None
    if not isinstance(docs, list):
        raise IndexFormatError(f"{path}: expected an object with a 'docs' list")
    out = []
    for n, doc in enumerate(docs):
        if not isinstance(doc, dict) or not isinstance(doc.get("passage"), str):
            raise IndexFormatError(f"{path}: docs[{n}] has no 'passage' string")
        passage = doc["passage"]
        head, sep, tail = passage.partition("\n")
        title = doc.get("title") if isinstance(doc.get("title"), str) else (head if sep else "")
        text = doc.get("text") if isinstance(doc.get("text"), str) else (tail if sep else passage)
        result = OpenIEResult.build(
            doc.get("extracted_entities") or [], doc.get("extracted_triples") or [],
            source=source, titles=[title] if title else [])
        out.append(HippoRAGDoc(title, text, passage, result))
    return out


def read_hipporag_openie(path: Path, *, source: str = "import") -> dict[str, OpenIEResult]:
    """A HippoRAG OpenIE file as a map from `text_hash(passage)` to its result.

    The key is the hash of the file's `passage` (`title + "\\n" + text`), which is a
    chunk's `indexed_text` when the chunk is the whole passage; `match_hipporag_docs`
    also matches chunks by title and text.

    Raises:
        IndexFormatError: when the file is not HippoRAG's format.
    """
    return {text_hash(d.passage): d.result for d in read_hipporag_docs(path, source=source)}


def _squash(text: str) -> str:
    return " ".join(text.split())


def match_hipporag_docs(docs: Sequence[HippoRAGDoc], chunks: Sequence[Chunk],
                        ) -> tuple[list[tuple[int, str, OpenIEResult]], int]:
    """Pair a HippoRAG file's passages with chunks, as HippoRAG itself matches them.

    A doc matches every chunk whose indexed text is its `passage`, else whose title and
    text equal its own (whitespace folded), else whose text alone equals its text or
    passage (an untitled chunk). The result takes the chunk's title.

    Returns:
        `([(chunk_id, text_hash(chunk.indexed_text), result)], unmatched_docs)`.
    """
    exact: dict[str, list[Chunk]] = {}
    titled: dict[tuple[str, str], list[Chunk]] = {}
    plain: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        exact.setdefault(chunk.indexed_text, []).append(chunk)
        titled.setdefault((_squash(chunk.title), _squash(chunk.text)), []).append(chunk)
        plain.setdefault(_squash(chunk.text), []).append(chunk)
    pairs: list[tuple[int, str, OpenIEResult]] = []
    unmatched = 0
    for doc in docs:
        found = (exact.get(doc.passage) or titled.get((_squash(doc.title), _squash(doc.text)))
                 or plain.get(_squash(doc.text)) or plain.get(_squash(doc.passage)) or [])
        unmatched += not found
        for chunk in found:
            titles = (normalize_entity(chunk.title),) if chunk.title else ()
            result = OpenIEResult(doc.result.entities, doc.result.triples, doc.result.source,
                                  tuple(t for t in titles if t))
            pairs.append((int(chunk.id), text_hash(chunk.indexed_text), result))
    return pairs, unmatched
