"""`ragmem bench scale`'s report: `scale.json`, `scale.md` (issue 13's table: one row per
measurement, one column per size) and, with `--per-doc`, `per_doc.csv` and
`per_doc.png` (per-write ms against the chunks in the collection)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Row = tuple[str, Callable[[Mapping[str, Any]], Any], str]

ROWS: list[Row] = [
    ("bulk ingest, ms per 1K chunks (first → last batch)",
     lambda r: (r["bulk"]["first_ms_per_1k"], r["bulk"]["last_ms_per_1k"]), "pair"),
    ("background merges still running after the bulk (ms waited)",
     lambda r: r["bulk"]["merge_wait_ms"], "ms"),
    ("add ONE 1-chunk document, end to end (ms, median of 3)", lambda r: r["add_one"]["ms_median"], "ms"),
    ("… of which index work beyond embedding (ms)", lambda r: r["add_one"]["index_ms_median"], "ms"),
    ("bytes written by that add (its thread's write calls, wchar)",
     lambda r: r["add_one"]["wchar_median"], "bytes"),
    ("bytes sent to storage by that add (its thread's write_bytes)",
     lambda r: r["add_one"]["write_bytes_median"], "bytes"),
    ("delete ONE document, end to end (ms, median of 3)",
     lambda r: r["delete_one"]["ms_median"], "ms"),
    ("next bm25 query after an add (ms, median of 3)", lambda r: r["next_bm25_ms"]["median"], "ms"),
    ("worst query latency while one doc is added (ms)", lambda r: r["during_add"]["worst_ms"], "ms"),
    ("open + load, warm page cache (ms)", lambda r: r["reopen"]["open_load_ms"], "ms"),
    ("open → first dense, bm25 and hybrid answers (ms)",
     lambda r: r["reopen"]["open_to_first_answers_ms"], "ms"),
    ("first add after open (ms)", lambda r: r["reopen"]["first_add_ms"], "ms"),
    ("dense query p50, encoder excluded (ms)", lambda r: r["dense_excl_encoder"]["p50_ms"], "ms"),
    ("dense query p50, encoder included (ms)", lambda r: r["dense"]["p50_ms"], "ms"),
    ("bm25 query p50 (ms)", lambda r: r["bm25"]["p50_ms"], "ms"),
    ("hybrid retrieve p50, encoder included (ms)", lambda r: r["hybrid"]["p50_ms"], "ms"),
    ("dense recall@10 against exact search", lambda r: r["dense_recall_at_10"], "ratio"),
    ("bm25 index only p50 (ms): segments / one monolithic bm25s, same loop",
     lambda r: (r["bm25_side_by_side"]["segmented"]["p50_ms"],
                r["bm25_side_by_side"]["monolithic"]["p50_ms"]), "pair"),
    ("bm25 same top 10 as the monolithic index (share of queries)",
     lambda r: r["bm25_side_by_side"]["same_top10"], "ratio"),
    ("RSS after reopen and first answers", lambda r: r["reopen"]["rss_kb"] * 1024, "bytes"),
    ("peak RSS of the size (VmHWM)", lambda r: r["peak_rss_kb"] * 1024, "bytes"),
    ("index + SQLite files on disk", lambda r: r["disk_bytes"], "bytes"),
    ("full merge after the adds, `IndexManager.merge` (ms)", lambda r: r["merge"].get("ms"), "ms"),
    ("full merge, bytes written (whole process)", lambda r: r["merge"].get("wchar"), "bytes"),
    ("HTTP one doc per request: 202 → indexed p50 (ms)",
     lambda r: r["per_doc"]["indexed_ms_p50"], "ms"),
    ("HTTP: 202 → indexed, first → last tenth (ms)",
     lambda r: (r["per_doc"]["first_indexed_ms"], r["per_doc"]["last_indexed_ms"]), "pair"),
    ("HTTP: bm25 query right after each write p50 (ms)", lambda r: r["per_doc"]["bm25_ms_p50"], "ms"),
]


def size_label(n: int) -> str:
    """10000 -> 10K, 1000000 -> 1M, 300 -> 300."""
    for unit, scale in (("M", 1_000_000), ("K", 1000)):
        if n >= scale and n % (scale // 10) == 0:
            return f"{n / scale:g}{unit}"
    return str(n)


def format_value(value: Any, kind: str) -> str:
    """One table cell; a missing or non-finite value shows as "—"."""
    if kind == "pair" and isinstance(value, tuple):
        return " → ".join(format_value(v, "ms") for v in value)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "—"
    if kind == "bytes":
        for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {unit}"
        return f"{int(value)} B"
    if kind == "ratio":
        return f"{value:.4f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"


def _get(getter: Callable[[Mapping[str, Any]], Any], result: Mapping[str, Any]) -> Any:
    try:
        return getter(result)
    except (KeyError, TypeError):
        return None


def scale_table(result: Mapping[str, Any]) -> str:
    """The Markdown table of a `run_scale` result: a row per measurement (rows with no
    value at any size are left out), a column per size."""
    sizes = [str(n) for n in result["sizes"]]
    per_size = result["results"]
    lines = ["| at N chunks | " + " | ".join(size_label(int(n)) for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for label, getter, kind in ROWS:
        values = [_get(getter, per_size[n]) for n in sizes]
        if all(v is None for v in values):
            continue
        lines.append(f"| {label} | " + " | ".join(format_value(v, kind) for v in values) + " |")
    return "\n".join(lines) + "\n"


def write_scale_report(out: Path, result: Mapping[str, Any], command: str = "") -> dict[str, Path]:
    """Write scale.json, scale.md and, when the result has per-document HTTP writes,
    per_doc.csv and per_doc.png (when matplotlib is installed) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "scale.json", "markdown": out / "scale.md"}
    paths["json"].write_text(json.dumps(result, indent=1, default=str) + "\n")
    head = ["# ragmem bench scale", ""] + ([f"`{command}`", ""] if command else [])
    paths["markdown"].write_text("\n".join(head) + "\n" + scale_table(result))
    series = {n: r["per_doc"]["writes"] for n, r in result["results"].items() if "per_doc" in r}
    if series:
        paths["csv"] = out / "per_doc.csv"
        with paths["csv"].open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["bulk_size", "at", "ack_ms", "indexed_ms", "bm25_ms"])
            for n, writes in series.items():
                for w in writes:
                    writer.writerow([n, w["at"], w["ack_ms"], w["indexed_ms"], w["bm25_ms"]])
        try:
            plot_per_doc(series, out / "per_doc.png")
            paths["png"] = out / "per_doc.png"
        except ImportError:  # matplotlib is a core dependency; the CSV holds the same
            pass
    return paths


def plot_per_doc(series: Mapping[str, list[dict[str, Any]]], path: Path) -> None:
    """Per-write ms (202 → indexed) against the chunks in the collection, one series per
    bulk size."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for n, writes in series.items():
        axes.plot([w["at"] for w in writes], [w["indexed_ms"] for w in writes], marker=".",
                  linestyle="none", label=f"from {size_label(int(n))} chunks")
    axes.set_xlabel("chunks in the collection")
    axes.set_ylabel("ms from upload to indexed (one document per request)")
    axes.set_ylim(bottom=0)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
