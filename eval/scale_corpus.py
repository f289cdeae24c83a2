"""`ragmem bench scale`'s synthetic corpus: tiled real passages with vectors embedded once.

Document `i` is passage `i % P` (one chunk each) under the title `"<title> #<i // P>"`,
so every copy is a distinct document to the store (the content hash covers the title).
Its vector is the real embedding of base passage `p % base` (as `bench speed` tiles
them) plus small Gaussian noise seeded by the text, so it is the same in every run.

`precomputed_encode` gives those vectors to the service's own embedder for the block,
the way `eval.speed.timed_encode` times it: the instance's `encode` is replaced for the
block only and every text the corpus does not know (a new document, a query) still goes
to the real model. Everything else an ingest does (SQLite, chunking, BM25, FAISS, the
index files) runs unchanged.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from eval.datasets import Dataset
from indexes.embedder import Embedder


def one_chunk_passages(datasets: Sequence[Dataset], size: int) -> list[tuple[str, str]]:
    """The datasets' distinct (title, text) passages that chunk into exactly one chunk of
    at most `size` characters, and whose title has no line break (see `SyntheticVectors`)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for dataset in datasets:
        for p in dataset.passages:
            key = (p.title, p.text)
            if key in seen or not p.text or p.text != p.text.strip() or len(p.text) > size \
                    or "\n" in p.title:
                continue
            seen.add(key)
            out.append(key)
    if not out:
        raise ValueError(f"no passage of the datasets fits one chunk of {size} characters")
    return out


def record(passages: Sequence[tuple[str, str]], i: int) -> dict[str, str]:
    """Document `i` of the tiled corpus as a JSON record."""
    title, text = passages[i % len(passages)]
    return {"title": f"{title} #{i // len(passages)}", "text": text, "id": f"s{i}"}


class SyntheticVectors:
    """Each corpus text's vector: its base passage's real embedding plus seeded noise.

    Args:
        embedder: the real model, which embeds the first `base` passages once.
        passages: the passages the corpus tiles.
        noise: the noise's standard deviation per dimension (before normalizing).
    """

    def __init__(self, embedder: Embedder, passages: Sequence[tuple[str, str]], *,
                 base: int = 1000, noise: float = 0.02) -> None:
        self._passage = {text: p for p, (_, text) in enumerate(passages)}
        self.base = embedder.encode([f"{t}\n{x}" for t, x in passages[:base]])
        self.noise = noise
        self.queries: dict[str, np.ndarray] = {}  # query vectors given out while set

    def vector(self, text: str) -> np.ndarray | None:
        """The vector of a corpus chunk's indexed text (`title + "\\n" + text`) or of a
        query in `queries`; None for any other text."""
        if text in self.queries:
            return self.queries[text]
        _, sep, body = text.partition("\n")
        p = self._passage.get(body) if sep else None
        if p is None:
            return None
        rng = np.random.default_rng(zlib.crc32(text.encode()))
        vector = self.base[p % len(self.base)] + rng.normal(0, self.noise, self.base.shape[1])
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """`vector` of each text, as rows (every text must be known)."""
        rows = [self.vector(t) for t in texts]
        if any(r is None for r in rows):
            raise ValueError("a text is not in the synthetic corpus")
        return np.stack(rows) if rows else np.zeros((0, self.base.shape[1]), np.float32)


@contextmanager
def precomputed_encode(embedder: Embedder, vectors: SyntheticVectors) -> Iterator[dict[str, Any]]:
    """Within the block, `embedder.encode` returns the synthetic vectors of texts it knows
    and embeds the others with the real model; yields counts and the real model's seconds."""
    counts: dict[str, Any] = {"precomputed": 0, "encoded": 0, "encoded_distinct": 0,
                              "encode_s": 0.0}
    encode = embedder.encode
    seen: set[str] = set()  # texts the model embedded (queries repeat; the count does not)

    def lookup(batch: Sequence[str], **kwargs: Any) -> np.ndarray:
        texts = [batch] if isinstance(batch, str) else list(batch)
        found = [vectors.vector(t) for t in texts]
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            started = time.perf_counter()
            real = encode([texts[i] for i in missing], **kwargs)
            counts["encode_s"] += time.perf_counter() - started
            for i, row in zip(missing, real, strict=True):
                found[i] = row
        counts["precomputed"] += len(texts) - len(missing)
        counts["encoded"] += len(missing)
        seen.update(texts[i] for i in missing)
        counts["encoded_distinct"] = len(seen)
        out = np.stack(found).astype(np.float32) if found else encode(texts, **kwargs)
        return out[0] if isinstance(batch, str) else out

    embedder.encode = lookup  # type: ignore[method-assign]  # this instance, this block only
    try:
        yield counts
    finally:
        del embedder.encode


# -- what the process costs: bytes written, disk used, memory --------------------------
def io_counters(scope: str = "self") -> dict[str, int]:
    """`/proc/<scope>/io`: `wchar` (bytes handed to write calls) and `write_bytes` (bytes
    sent to the storage layer) of the process (`self`) or of the calling thread
    (`thread-self`: what a synchronous add writes, without a background merge's bytes);
    zeros where it cannot be read."""
    try:
        lines = Path(f"/proc/{scope}/io").read_text().splitlines()
    except OSError:
        return {"wchar": 0, "write_bytes": 0}
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    return {"wchar": int(fields.get("wchar", 0)), "write_bytes": int(fields.get("write_bytes", 0))}


def tree_bytes(root: Path) -> int:
    """Total size of the files under `root`."""
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except FileNotFoundError:  # removed while walking (an old generation)
                continue
    return total


def memory_kb() -> dict[str, int]:
    """`VmRSS` (now) and `VmHWM` (peak since start or the last `reset_peak`) in kB."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"VmRSS": peak, "VmHWM": peak}
    fields = {k: v for k, _, v in (line.partition(":") for line in text.splitlines())}
    return {key: int(fields.get(key, "0 kB").split()[0]) for key in ("VmRSS", "VmHWM")}


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux: `5` into /proc/self/clear_refs), so each
    corpus size reports its own peak; False where the kernel does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True
