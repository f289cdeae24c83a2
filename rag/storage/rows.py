"""Typed rows out of the store, and the collection-name rule (a name becomes a folder)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.errors import InvalidInputError

COLLECTION_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class CollectionRow:
    id: int
    name: str
    embedder: str
    dim: int
    created: float
    owner_key_id: int | None = None  # the API key that owns it (rag/service/keys.py)


@dataclass(frozen=True)
class NewDocument:
    """A parsed document with its chunk spans, ready to store."""

    text: str
    title: str
    source: str
    metadata: dict[str, Any]
    content_hash: str
    spans: Sequence[tuple[int, int]]
    external_id: str | None = None


@dataclass(frozen=True)
class DocumentText:
    """A stored document's id, title and full text."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class ChunkRow:
    id: int
    document_id: str
    title: str
    text: str
    start: int
    end: int
    ordinal: int


def validate_collection_name(name: str) -> str:
    """Check a collection name (it names a folder, so it is strict).

    Raises:
        InvalidInputError: when the name is not 1-64 of letters, digits, '_', '.', '-'
            starting with a letter or digit.
    """
    if not isinstance(name, str) or not COLLECTION_NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"invalid collection name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name
