"""A byte-bounded block cache with InfLLM's decayed-score eviction.

InfLLM (arXiv:2402.04617, section 3.3) keeps hot memory units on the GPU: every lookup adds
to the score of the blocks it used, all scores decay by a factor, and the block with the
lowest score is evicted first. Decay is applied lazily: each lookup's increment grows by
1/decay instead of shrinking every stored score, which orders entries identically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

_RESCALE_AT = 1e150


@dataclass
class _Entry:
    value: Any
    nbytes: int
    score: float


class BlockCache:
    """Holds at most `max_bytes` of block payloads; misses are loaded by the caller."""

    def __init__(self, max_bytes: int = 64 * 2**20, *, decay: float = 0.9) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes!r}")
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay!r}")
        self.max_bytes = max_bytes
        self.decay = decay
        self._entries: dict[Hashable, _Entry] = {}
        self._bytes = 0
        self._increment = 1.0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    @property
    def nbytes(self) -> int:
        """Bytes held now (never more than `max_bytes`)."""
        return self._bytes

    def score(self, key: Hashable) -> float:
        """The decayed score of `key` as of now (0.0 when absent)."""
        entry = self._entries.get(key)
        return 0.0 if entry is None else entry.score / self._increment

    def get_many(
        self,
        keys: Iterable[Hashable],
        load: Callable[[list[Hashable]], dict[Hashable, tuple[Any, int]]],
        *,
        tick: bool = True,
    ) -> dict[Hashable, Any]:
        """Return the payloads of `keys`, loading misses with `load` in one call.

        This is one lookup: every score decays, and each key used gets +1.

        Args:
            keys: The blocks this lookup uses.
            load: Maps missing keys to `(payload, nbytes)` (one disk read for all).
            tick: Count this as a new lookup (decay first); False adds to the current one.

        Returns:
            Key to payload, for every key `load` could provide.
        """
        keys = list(dict.fromkeys(keys))
        with self._lock:
            if tick:
                self._tick()
            found = {k: self._entries[k] for k in keys if k in self._entries}
            self.hits += len(found)
            missing = [k for k in keys if k not in found]
            self.misses += len(missing)
        loaded = load(missing) if missing else {}
        with self._lock:
            out = {}
            for key in keys:
                entry = self._entries.get(key)
                if entry is None and key in loaded:
                    value, nbytes = loaded[key]
                    entry = self._insert(key, value, nbytes)
                if entry is not None:
                    entry.score += self._increment
                    out[key] = entry.value
            self._evict()
        return out

    def _tick(self) -> None:
        self._increment /= self.decay
        if self._increment > _RESCALE_AT:
            for entry in self._entries.values():
                entry.score /= self._increment
            self._increment = 1.0

    def _insert(self, key: Hashable, value: Any, nbytes: int) -> _Entry:
        entry = _Entry(value=value, nbytes=nbytes, score=0.0)
        self._entries[key] = entry
        self._bytes += nbytes
        return entry

    def _evict(self) -> None:
        if self._bytes <= self.max_bytes:
            return
        for key in sorted(self._entries, key=lambda k: self._entries[k].score):
            if self._bytes <= self.max_bytes:
                break
            self._bytes -= self._entries.pop(key).nbytes
            self.evictions += 1

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int | float]:
        """Counts and bytes, JSON-able."""
        return {
            "entries": len(self._entries),
            "bytes": self._bytes,
            "max_bytes": self.max_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
        }
