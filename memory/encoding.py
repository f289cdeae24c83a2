"""The text-encoder protocol memory needs, and a memo that never encodes a text twice."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that turns texts into unit vectors (`indexes.embedder.Embedder` does)."""

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode `texts` as an (n, dim) float32 array of unit vectors."""
        ...


def encode_unique(encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    """Encode `texts`, running the model once per distinct text.

    Repeated sentences (boilerplate, quoted turns, repeated filler) cost nothing extra.

    Args:
        encoder: The encoder.
        texts: Texts, possibly with repeats.

    Returns:
        An (n, dim) float32 array aligned with `texts`.
    """
    index: dict[str, int] = {}
    positions = [index.setdefault(t, len(index)) for t in texts]
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    vectors = np.asarray(encoder.encode(list(index)), dtype=np.float32)
    return vectors[np.asarray(positions, dtype=np.int64)]


class MemoEncoder:
    """A `TextEncoder` that remembers the vectors of up to `max_entries` recent texts."""

    def __init__(self, encoder: TextEncoder, *, max_entries: int = 100_000) -> None:
        self.encoder = encoder
        self.max_entries = max_entries
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self.encoded = 0

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self.encoder.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode `texts`, reusing remembered vectors."""
        new = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if new:
            vectors = encode_unique(self.encoder, new)
            self.encoded += len(new)
            for text, vector in zip(new, vectors, strict=True):
                self._memo[text] = vector
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._memo[text]
            self._memo.move_to_end(text)
        while len(self._memo) > self.max_entries:
            self._memo.popitem(last=False)
        return out
