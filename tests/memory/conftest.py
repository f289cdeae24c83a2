"""Fixtures for the memory tests: a fast model-free encoder and a temporary store.

The real MiniLM comes from the session-scoped `embedder` fixture in tests/conftest.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
import pytest

from memory.store import MemoryStore


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


@pytest.fixture
def store(tmp_path) -> MemoryStore:
    s = MemoryStore(tmp_path / "ragmem.sqlite3", tmp_path / "faiss").open()
    yield s
    s.close()
