"""Fixtures for the memory tests: a fast model-free encoder and a temporary store.

The store is the real one: memory's rows in the service's SQLite store (rag/storage), as
`memory/` is used in the service. The real MiniLM comes from the session-scoped `embedder`
fixture in tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest

from memory.store import MemoryStore
from rag.storage.memory_rows import StoreBlockRows, StoreSessionRows
from rag.storage.store import Store


class HashEncoder:
    """A model-free encoder: hashed bag of words, L2-normalised (deterministic)."""

    dim = 64

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()


def open_stores(path) -> tuple[Store, MemoryStore, StoreSessionRows]:
    """The service's SQLite store at `path`, and memory's block and session rows in it."""
    db = Store(path / "ragmem.sqlite3").connect()
    return db, MemoryStore(StoreBlockRows(db), path / "faiss"), StoreSessionRows(db)


@pytest.fixture
def store(tmp_path) -> MemoryStore:
    db, memory_store, _ = open_stores(tmp_path)
    yield memory_store
    db.close()
