"""One InfLLM-style block memory: a long document, a transcript or an archive.

Text is segmented into blocks (`memory.blocks`), each block gets r representative
vectors (its r-1 most salient sentences, embedded in one batched call, plus their mean)
and BM25 terms. A lookup scores blocks by best-representative cosine and BM25, fuses the
two (`memory.scoring`), and assembles sinks + top-k blocks + local window
(`memory.assembly`). Block texts and vectors are rows (`memory.rows.BlockRows`, SQLite in
the service); the FAISS index is derived from them (`memory.store`) and can be
memory-mapped; hot blocks sit in a `BlockCache`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from memory.assembly import AssembledContext, AssemblyConfig, BlockSpan, assemble, edge_positions
from memory.blocks import segment
from memory.builder import BuiltBlocks, build_blocks
from memory.cache import BlockCache
from memory.encoding import TextEncoder
from memory.lexical import LexicalIndex
from memory.rows import MemoryInfo
from memory.scoring import block_max, fuse, top_blocks
from memory.store import MemoryStore
from memory.tokens import TokenCounter

REP_STRIDE = 16  # FAISS id = block_id * REP_STRIDE + j


@dataclass(frozen=True)
class BlockHit:
    """A block ranked for a query, with the scores of both channels."""

    block_id: int
    source: str
    start: int
    end: int
    score: float
    dense: float
    lexical: float


class BlockMemory:
    """A persistent block memory named `name` inside a `MemoryStore`.

    The constructor is cheap; `open()` loads (or rebuilds) the FAISS and lexical indexes.
    Any number of instances may read one memory; only one may add to it at a time.
    """

    def __init__(
        self,
        store: MemoryStore,
        name: str,
        *,
        encoder: TextEncoder,
        counter: TokenCounter,
        encoder_name: str = "encoder",
        kind: str = "document",
        config: AssemblyConfig = AssemblyConfig(),
        cache: BlockCache | None = None,
        fusion: str = "sum",
        lexical_weight: float = 1.0,
        mmap: bool = False,
    ) -> None:
        self.store, self.name, self.kind = store, name, kind
        self.encoder, self.counter, self.encoder_name = encoder, counter, encoder_name
        self.config, self.fusion, self.lexical_weight = config, fusion, lexical_weight
        self.cache = cache if cache is not None else BlockCache()
        self.mmap = mmap
        self.info: MemoryInfo | None = None
        self._spans: list[BlockSpan] = []
        self._lexical = LexicalIndex()
        self._index: Any = None
        self._index_writable = False
        self._dirty = False

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> BlockMemory:
        """Create or load the memory (idempotent)."""
        if self.info is not None:
            return self
        self.info = self.store.rows.create_memory(
            self.name,
            kind=self.kind,
            encoder=self.encoder_name,
            dim=self.encoder.dim,
            block_tokens=self.config.block_tokens,
            reps=self.config.reps,
        )
        rows = self.store.rows.block_spans(self.info.id)
        self._spans = [BlockSpan(*row) for row in rows]
        for texts in self.store.rows.iter_block_texts(self.info.id):
            self._lexical.add(texts)
        self._lexical.prepare()
        self._index = self._load_index()
        return self

    def _load_index(self) -> Any:
        import faiss

        info = self._info()
        path = self.store.faiss_path(info.id)
        n_reps = self.store.rows.rep_count(info.id)
        if path.exists():
            flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if self.mmap else 0
            index = faiss.read_index(str(path), flags)
            if index.ntotal == n_reps and index.d == info.dim:
                self._index_writable = not self.mmap
                return index
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(info.dim))
        for ids, vectors in self.store.rows.iter_reps(info.id, info.dim, stride=REP_STRIDE):
            index.add_with_ids(vectors, ids)
        self._index_writable = True
        self._dirty = n_reps > 0
        return index

    def _info(self) -> MemoryInfo:
        if self.info is None:
            self.open()
        assert self.info is not None
        return self.info

    def flush(self) -> None:
        """Write the FAISS index file if blocks were added since the last flush."""
        if self._dirty:
            self.store.write_faiss(self._info().id, self._index)
            self._dirty = False

    def __len__(self) -> int:
        return len(self._spans)

    @property
    def n_tokens(self) -> int:
        """Tokens held in all blocks."""
        return sum(s.n_tokens for s in self._spans)

    # -- writing --------------------------------------------------------------------------

    def add(self, source: str, text: str, *, flush: bool = True) -> list[int]:
        """Segment `text` (from `source`) into blocks and index them.

        Args:
            source: Provenance of the text (a document id, "message:12", ...).
            text: The text; block offsets are relative to it.
            flush: Write the FAISS file now (SQLite is always committed).

        Returns:
            The new block ids, in order.
        """
        info = self._info()
        blocks = segment(text, self.counter, block_tokens=info.block_tokens)
        if not blocks:
            return []
        first = len(self._spans)
        self._lexical.add([text[b.start : b.end] for b in blocks])
        built: BuiltBlocks = build_blocks(
            text,
            blocks,
            source=source,
            first_id=first,
            encoder=self.encoder,
            idf=self._lexical.idf,
            reps=info.reps,
        )
        self.store.rows.add_blocks(info.id, built.blocks, built.reps)
        if not self._index_writable:
            self._index = self._reload_writable()
        self._index.add_with_ids(built.vectors, built.rep_ids(REP_STRIDE))
        self._spans.extend(BlockSpan(b.block_id, b.source, b.start, b.end, b.n_tokens) for b in built.blocks)
        self._lexical.prepare()
        self._dirty = True
        if flush:
            self.flush()
        return [b.block_id for b in built.blocks]

    def _reload_writable(self) -> Any:
        import faiss

        mapped = self._index
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(mapped.d))
        if mapped.ntotal:  # copy the memory-mapped vectors into RAM
            index.add_with_ids(
                mapped.index.reconstruct_n(0, mapped.ntotal), faiss.vector_to_array(mapped.id_map)
            )
        self._index_writable = True
        return index

    # -- reading ----------------------------------------------------------------------------

    def _payloads(self, block_ids: list[int], *, tick: bool) -> dict[int, tuple[str, np.ndarray]]:
        """Texts and vectors of blocks through the cache (misses read from SQLite)."""
        info = self._info()

        def load(keys: list) -> dict:
            rows = self.store.rows.block_payloads(info.id, [k[1] for k in keys], info.dim)
            return {
                (info.id, b): ((text, vecs), len(text.encode()) + vecs.nbytes + 96)
                for b, (text, vecs) in rows.items()
            }

        got = self.cache.get_many([(info.id, b) for b in block_ids], load, tick=tick)
        return {key[1]: value for key, value in got.items()}

    def _scores(self, query: str, query_vec: np.ndarray, top_k: int) -> tuple[np.ndarray, ...]:
        """Per-block dense (best representative cosine) and lexical scores."""
        n = len(self._spans)
        k_reps = min(int(self._index.ntotal), max(64, top_k * self.config.reps * 4))
        dense = np.full(n, -np.inf, dtype=np.float32)
        if k_reps:
            sims, ids = self._index.search(query_vec[None, :], k_reps)
            keep = ids[0] >= 0
            dense = block_max(ids[0][keep] // REP_STRIDE, sims[0][keep], n)
        lexical = self._lexical.scores(query)
        missing = [b for b in top_blocks(lexical, 2 * top_k) if not np.isfinite(dense[b])]
        for block_id, (_, vecs) in self._payloads(missing, tick=True).items():
            if len(vecs):
                dense[block_id] = float((vecs @ query_vec).max())
        return dense, lexical

    def _ranked(self, query: str, top_k: int, exclude: np.ndarray | None) -> list[BlockHit]:
        self._info()
        if not self._spans or top_k <= 0:
            return []
        query_vec = np.asarray(self.encoder.encode([query]), dtype=np.float32)[0]
        dense, lexical = self._scores(query, query_vec, top_k)
        fused = fuse(dense, lexical, method=self.fusion, lexical_weight=self.lexical_weight)
        hits = []
        for pos in top_blocks(fused, top_k, exclude=exclude):
            span = self._spans[pos]
            hits.append(
                BlockHit(
                    span.block_id,
                    span.source,
                    span.start,
                    span.end,
                    float(fused[pos]),
                    float(dense[pos]),
                    float(lexical[pos]),
                )
            )
        return hits

    def search(self, query: str, k: int = 16) -> list[BlockHit]:
        """The `k` blocks that best match `query`, best first.

        Raises:
            ValueError: when `k` is not positive.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k!r}")
        return self._ranked(query, k, None)

    def context(
        self, query: str, *, budget: int | None = None, config: AssemblyConfig | None = None
    ) -> AssembledContext:
        """Assemble sinks + top-k blocks for `query` + local window under `budget` tokens.

        Args:
            query: The current question or turn.
            budget: Most tokens; defaults to the full shape of the config.
            config: The context shape; defaults to this memory's, scaled to `budget`.

        Returns:
            The assembled context; each piece carries its text, source and offsets.
        """
        base = config or self.config
        budget = base.budget if budget is None else budget
        if budget <= 0:
            return AssembledContext(pieces=(), n_tokens=0, budget=max(budget, 0))
        shape = base if config is not None else base.scaled(budget)
        sinks, local = edge_positions(self._spans, shape, budget=budget)
        exclude = np.zeros(len(self._spans), dtype=bool)
        exclude[sinks + local] = True
        hits = self._ranked(query, shape.top_k, exclude)
        ctx = assemble(self._spans, [(h.block_id, h.score) for h in hits], shape, budget=budget)
        texts = self._payloads([p.block_id for p in ctx.pieces], tick=False)
        pieces = tuple(replace(p, text=texts[p.block_id][0]) for p in ctx.pieces)
        return replace(ctx, pieces=pieces)

    def stats(self) -> dict[str, Any]:
        """Sizes and cache state, JSON-able."""
        index_bytes = int(self._index.ntotal) * self._info().dim * 4 if self._index else 0
        return {
            "name": self.name,
            "blocks": len(self._spans),
            "tokens": self.n_tokens,
            "representatives": int(self._index.ntotal) if self._index else 0,
            "index_bytes": index_bytes,
            "index_mmap": self.mmap and not self._index_writable,
            "lexical_bytes": self._lexical.nbytes(),
            "cache": self.cache.stats(),
        }
