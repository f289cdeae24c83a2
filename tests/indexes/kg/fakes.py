"""Deterministic stand-ins for the embedder and the OpenIE extractor (no models)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from indexes.base import Chunk
from indexes.kg.openie import OpenIEResult, normalize_phrase

DIM = 64


def _word_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "little")
    return np.random.default_rng(seed).standard_normal(DIM)


class FakeEmbedder:
    """Bag-of-words random projections: texts sharing words have high cosine."""

    name = "fake-bow"
    dim = DIM

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def load(self) -> FakeEmbedder:
        return self

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            words = normalize_phrase(text).split() or ["<empty>"]
            vec = sum(_word_vector(w) for w in words)
            out[i] = vec / np.linalg.norm(vec)
        return out


class FakeOpenIE:
    """Entities = capitalized word runs; triples from `A rel B.` sentences."""

    source = "fake"

    def __init__(self) -> None:
        self.calls = 0

    def extract(self, chunks: Sequence[Chunk]) -> list[OpenIEResult]:
        self.calls += len(chunks)
        results = []
        for chunk in chunks:
            triples = []
            for sentence in chunk.text.split("."):
                parts = [p.strip() for p in sentence.split("|")]
                if len(parts) == 3:
                    triples.append(tuple(parts))
            ents = [p for t in triples for p in (t[0], t[2])]
            results.append(OpenIEResult.build(ents, triples, source=self.source,
                                              titles=[chunk.title] if chunk.title else []))
        return results

    def query_entities(self, query: str) -> list[str]:
        return [normalize_phrase(w) for w in query.split() if w[:1].isupper()]
