"""Long-context benchmarks over memory blocks: needle-in-a-haystack and long-context files.

`run_needle` builds haystacks from Paul Graham essays (the usual NIAH filler), inserts
needles at given depths, builds a `BlockMemory` and checks whether every needle lies
inside the assembled context. `run_longctx` does the same for InfiniteBench passkey
(zip of jsonl), lost-in-the-middle key-value retrieval and LongEval lines (jsonl.gz).
Both return `{"summary": {...}, "results": [...]}` and accept a `progress(done, total)`.
"""

from __future__ import annotations

import gzip
import json
import resource
import shutil
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memory.assembly import AssembledContext, AssemblyConfig
from memory.blockmemory import BlockMemory
from memory.cache import BlockCache
from memory.encoding import MemoEncoder, TextEncoder
from memory.store import MemoryStore
from memory.tokens import HFTokenCounter, TokenCounter
from rag.storage.memory_rows import StoreBlockRows
from rag.storage.store import Store

Progress = Callable[[int, int], None] | None

DEFAULT_ESSAYS = Path("../shared/datasets/longctx/niah_paulgraham_haystack/PaulGrahamEssays")
SF_NEEDLE = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."
SF_QUESTION = "What is the best thing to do in San Francisco?"
PIZZA_ITEMS = tuple(
    "Figs|Prosciutto|Smoked applewood bacon|Lemon|Goat cheese|Truffle honey|Pear slices|"
    "Espresso-soaked dates|Gorgonzola dolce|Candied walnuts".split("|")
)
PIZZA_QUESTION = "What are the secret ingredients needed to build the perfect pizza?"
DEFAULT_DEPTHS = tuple(round(i / 10, 1) for i in range(11))


@dataclass(frozen=True)
class Case:
    """One long-context case: a text, a query and the strings that must reach the context."""

    case_id: str
    context: str
    query: str
    golds: tuple[str, ...]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def needles_for(n: int) -> tuple[list[str], str]:
    """The needle sentences and the question for `n` needles (1: NIAH's San Francisco)."""
    if n < 1 or n > len(PIZZA_ITEMS):
        raise ValueError(f"needles must be in 1..{len(PIZZA_ITEMS)}, got {n!r}")
    if n == 1:
        return [SF_NEEDLE], SF_QUESTION
    template = "{} is one of the secret ingredients needed to build the perfect pizza."
    return [template.format(x) for x in PIZZA_ITEMS[:n]], PIZZA_QUESTION


def build_haystack(essays: Sequence[str], n_tokens: int, counter: TokenCounter) -> str:
    """Concatenate `essays` (repeating them) and cut the result at `n_tokens` tokens."""
    if not essays:
        raise ValueError("no essays to build a haystack from")
    counts = counter.count(list(essays))
    parts, total, i = [], 0, 0
    while total < n_tokens:
        text, n = essays[i % len(essays)], counts[i % len(essays)]
        if total + n > n_tokens:
            offsets = counter.offsets(text)
            text = text[: offsets[n_tokens - total - 1][1]] if n_tokens > total else ""
            n = n_tokens - total
        parts.append(text)
        total, i = total + n, i + 1
    return "".join(parts)


def insert_needles(haystack: str, needles: Sequence[str], depth: float) -> tuple[str, list[tuple[int, int]]]:
    """Insert needles at sentence ends: the first at `depth`, the rest spread after it.

    Returns:
        The new text and each needle's `(start, end)` character span in it.
    """
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must be in [0, 1], got {depth!r}")
    n = len(needles)
    depths = [depth + i * (1.0 - depth) / n for i in range(n)]
    text, spans = haystack, []
    for needle, d in sorted(zip(needles, depths, strict=True), key=lambda x: -x[1]):
        pos = int(len(text) * d)
        cut = text.find(". ", pos)
        pos = 0 if d == 0.0 else (len(text) if cut < 0 or d == 1.0 else cut + 2)
        insert = f" {needle} " if pos else f"{needle} "
        text = text[:pos] + insert + text[pos:]
        start = pos + (1 if pos else 0)
        spans = [(s + len(insert), e + len(insert)) if s >= pos else (s, e) for s, e in spans]
        spans.append((start, start + len(needle)))
    return text, sorted(spans)


def covered(ctx: AssembledContext, span: tuple[int, int]) -> bool:
    """Whether the character span lies entirely inside the context's pieces."""
    start, end = span
    for piece in ctx.pieces:
        if piece.start <= start < piece.end:
            start = piece.end
        if start >= end:
            return True
    return start >= end


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    p50, p95 = np.percentile(np.asarray(values, dtype=np.float64), [50, 95]) if values else (0.0, 0.0)
    return {"p50": float(p50), "p95": float(p95)}


@dataclass
class _Bench:
    """Builds one throwaway memory per case and measures lookups."""

    encoder: TextEncoder
    counter: TokenCounter
    config: AssemblyConfig
    cache_bytes: int
    fusion: str
    repeats: int

    def __post_init__(self) -> None:
        self.memo = MemoEncoder(self.encoder)  # span vectors shared by every build

    def _memory(self, store: MemoryStore, encoder: TextEncoder, **kwargs: Any) -> BlockMemory:
        return BlockMemory(
            store,
            "case",
            encoder=encoder,
            counter=self.counter,
            encoder_name="bench",
            config=self.config,
            fusion=self.fusion,
            **kwargs,
        ).open()

    def _lookups(self, memory: BlockMemory, query: str, budget: int) -> tuple[Any, ...]:
        lookups, encodes, ctx = [], [], None
        for _ in range(max(1, self.repeats)):
            t0 = time.perf_counter()
            self.encoder.encode([query])  # timed apart: the model's share of a lookup
            t1 = time.perf_counter()
            ctx = memory.context(query, budget=budget)
            t2 = time.perf_counter()
            encodes.append((t1 - t0) * 1000)
            lookups.append((t2 - t1) * 1000)
        return ctx, lookups, statistics.median(encodes)

    def run(self, context: str, query: str, spans: Sequence[tuple[int, int]], *, budget: int) -> dict[str, Any]:
        """Build (through the span memo), reopen memory-mapped, look up, check spans."""
        tmp = Path(tempfile.mkdtemp(prefix="ragmem-bench-"))
        try:
            db = Store(tmp / "bench.sqlite3").connect()  # the service's policy and schema
            store = MemoryStore(StoreBlockRows(db), tmp / "faiss")
            t0 = time.perf_counter()
            self._memory(store, self.memo).add("case", context)
            t1 = time.perf_counter()
            memory = self._memory(store, self.encoder, mmap=True, cache=BlockCache(self.cache_bytes))
            t2 = time.perf_counter()
            ctx, lookups, encode_ms = self._lookups(memory, query, budget)
            hits = memory.search(query, self.config.scaled(budget).top_k)
            stats = memory.stats()
            db.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        found = [covered(ctx, s) for s in spans]
        block_hit = [any(h.start < e and s < h.end for h in hits) for s, e in spans]
        return {
            "found": found,
            "recall": sum(found) / len(found),
            "block_hit": sum(block_hit) / len(spans),
            "lookup_ms": lookups,
            "query_encode_ms_p50": encode_ms,
            "build_s": t1 - t0,
            "open_s": t2 - t1,
            "context_tokens": ctx.n_tokens,
            "stats": stats,
        }


def _default_tools(
    encoder: TextEncoder | None, counter: TokenCounter | None
) -> tuple[TextEncoder, TokenCounter]:
    if encoder is None:
        from indexes.embedder import Embedder

        embedder = Embedder().load()
        encoder, counter = embedder, counter or HFTokenCounter(embedder.tokenizer)
    if counter is None:
        tokenizer = getattr(encoder, "tokenizer", None)
        if tokenizer is None:
            raise ValueError("pass a counter: the encoder has no tokenizer")
        counter = HFTokenCounter(tokenizer)
    return encoder, counter


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    lookups = [ms for r in rows for ms in r.pop("lookup_ms")]
    builds = [r["build_s"] for r in rows]
    pct = _percentiles(lookups)
    return {
        "recall": statistics.fmean(r["recall"] for r in rows),
        "block_hit": statistics.fmean(r["block_hit"] for r in rows),
        "lookup_ms_p50": pct["p50"],
        "lookup_ms_p95": pct["p95"],
        "build_s": builds[0],
        "build_s_warm_p50": statistics.median(builds[1:] or builds),
        "open_s_p50": statistics.median(r["open_s"] for r in rows),
        "query_encode_ms_p50": statistics.median(r["query_encode_ms_p50"] for r in rows),
        "peak_rss_mb": peak_rss_mb(),
        "cases": len(rows),
    }


def _result(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One JSON row: `extra`, the case's scores, and its median lookup."""
    p50 = _percentiles(row["lookup_ms"])["p50"]
    return extra | {k: v for k, v in row.items() if k != "lookup_ms"} | {"lookup_ms_p50": p50}


def run_needle(
    *,
    tokens: Sequence[int] = (32_000, 128_000, 1_000_000),
    needles: int = 1,
    depths: Sequence[float] = DEFAULT_DEPTHS,
    budget: int = 4096,
    essays_dir: str | Path = DEFAULT_ESSAYS,
    encoder: TextEncoder | None = None,
    counter: TokenCounter | None = None,
    config: AssemblyConfig = AssemblyConfig(),
    cache_bytes: int = 32 * 2**20,
    fusion: str = "sum",
    repeats: int = 5,
    progress: Progress = None,
) -> dict[str, Any]:
    """Needle-in-a-haystack over memory blocks, per haystack length and needle depth.

    The first build at each length encodes every span; later depths reuse span vectors
    (only the needle's blocks are new), so `build_s` is the cold build and
    `build_s_warm_p50` the incremental one. Lookups run on a freshly opened,
    memory-mapped memory with a `cache_bytes` block cache, `repeats` times per case.

    Returns:
        `{"summary": {"<tokens>": {"recall", "block_hit", "lookup_ms_p50", "lookup_ms_p95",
        "build_s", "peak_rss_mb", ...}}, "results": [one row per length and depth]}`.
    """
    encoder, counter = _default_tools(encoder, counter)
    folder = Path(essays_dir)
    essays = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))]
    needle_texts, question = needles_for(needles)
    bench = _Bench(encoder, counter, config, cache_bytes, fusion, repeats)
    summary, results, done, total = {}, [], 0, len(tokens) * len(depths)
    for n_tokens in tokens:
        haystack = build_haystack(essays, n_tokens, counter)
        rows = []
        for depth in depths:
            text, spans = insert_needles(haystack, needle_texts, depth)
            row = bench.run(text, question, spans, budget=budget)
            rows.append(row)
            results.append(_result(row, tokens=n_tokens, depth=depth, needles=needles))
            done += 1
            if progress is not None:
                progress(done, total)
        summary[str(n_tokens)] = _summary(rows)
    config_out = {
        "budget": budget,
        "needles": needles,
        "fusion": fusion,
        "cache_bytes": cache_bytes,
        "shape": vars(config.scaled(budget)),
        "encoded_spans": bench.memo.encoded,
    }
    return {"summary": summary, "results": results, "config": config_out}


def load_passkey(path: str | Path, *, limit: int | None = None) -> Iterator[Case]:
    """InfiniteBench passkey cases from the zip of `passkey_<len>.jsonl` files (or one jsonl)."""
    path = Path(path)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            for name in sorted(archive.namelist(), key=lambda n: (len(n), n)):
                with archive.open(name) as fh:
                    yield from _passkey_lines(fh, Path(name).stem, limit)
    else:
        with open(path, "rb") as fh:
            yield from _passkey_lines(fh, path.stem, limit)


def _passkey_lines(fh: Any, stem: str, limit: int | None) -> Iterator[Case]:
    for i, line in zip(range(limit if limit is not None else 2**62), fh, strict=False):
        record = json.loads(line)
        yield Case(f"{stem}:{i}", record["context"], record["input"], (str(record["answer"]),))


def _jsonl_gz(path: Path, limit: int | None) -> Iterator[tuple[int, dict[str, Any]]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in zip(range(limit if limit is not None else 2**62), fh, strict=False):
            yield i, json.loads(line)


def load_kv_retrieval(path: str | Path, *, limit: int | None = None) -> Iterator[Case]:
    """lost-in-the-middle key-value retrieval, formatted as in its prompt (a JSON object)."""
    path = Path(path)
    for i, record in _jsonl_gz(path, limit):
        pairs = [f'"{k}": "{v}"' for k, v in record["ordered_kv_records"]]
        context = "JSON data:\n{" + ",\n ".join(pairs) + "}"
        gold = f'"{record["key"]}": "{record["value"]}"'
        query = f'Key: "{record["key"]}"\nCorresponding value:'
        yield Case(f"{path.name}:{i}", context, query, (gold,))


def load_longeval_lines(path: str | Path, *, limit: int | None = None) -> Iterator[Case]:
    """LongEval (LongChat) line retrieval: the record of lines, then the question."""
    path = Path(path)
    for i, record in _jsonl_gz(path, limit):
        prompt = record["prompt"]
        cut = prompt.rfind("Now the record is over.")
        context, query = (prompt[:cut], prompt[cut:]) if cut >= 0 else (prompt, prompt[-200:])
        yield Case(f"{path.name}:{i}", context, query, (record["correct_line"].strip(),))


def load_longctx(path: str | Path, *, limit: int | None = None) -> Iterator[Case]:
    """Pick the loader from the file name (passkey, kv-retrieval, lines).

    Raises:
        ValueError: when the file is none of the known long-context sets.
    """
    name = Path(path).name
    if "passkey" in name:
        return load_passkey(path, limit=limit)
    if "kv-retrieval" in name or "kv_retrieval" in name:
        return load_kv_retrieval(path, limit=limit)
    if "lines" in name:
        return load_longeval_lines(path, limit=limit)
    raise ValueError(f"unknown long-context file {name!r}: expected passkey, kv-retrieval or lines")


def run_longctx(
    file: str | Path,
    *,
    limit: int | None = 50,
    budget: int = 4096,
    encoder: TextEncoder | None = None,
    counter: TokenCounter | None = None,
    config: AssemblyConfig = AssemblyConfig(),
    cache_bytes: int = 32 * 2**20,
    fusion: str = "sum",
    repeats: int = 1,
    progress: Progress = None,
) -> dict[str, Any]:
    """Whether each case's gold record lands inside the assembled context.

    Args:
        file: A passkey zip/jsonl, a kv-retrieval jsonl.gz or a LongEval lines jsonl.gz.
        limit: Most cases per file (per zip member for passkey); None for all.
        budget: Context budget in tokens.

    Returns:
        `{"summary": {"<set>": {"recall", "block_hit", "lookup_ms_p50", ...}},
        "results": [one row per case]}`.
    """
    encoder, counter = _default_tools(encoder, counter)
    bench = _Bench(encoder, counter, config, cache_bytes, fusion, repeats)
    cases = list(load_longctx(file, limit=limit))
    groups: dict[str, list[dict[str, Any]]] = {}
    results = []
    for done, case in enumerate(cases, start=1):
        spans = [(p, p + len(g)) for g in case.golds if (p := case.context.find(g)) >= 0]
        if not spans:
            raise ValueError(f"case {case.case_id}: gold text not found in its context")
        row = bench.run(case.context, case.query, spans, budget=budget)
        row["tokens"] = row.pop("stats")["tokens"]
        groups.setdefault(case.case_id.split(":")[0], []).append(row)
        results.append(_result(row, case=case.case_id))
        if progress is not None:
            progress(done, len(cases))
    summary = {name: _summary(rows) for name, rows in groups.items()}
    shape = vars(config.scaled(budget))
    config_out = {"budget": budget, "limit": limit, "fusion": fusion, "shape": shape}
    return {"summary": summary, "results": results, "config": config_out}
