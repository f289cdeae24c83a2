"""Benchmark reports: ``results.json``, a Markdown table and a recall plot.

A result object looks like::

    {"dataset": "musique_train_100", "n_questions": 100, "n_passages": 1890,
     "results": {"bm25": {"R@2": 0.39, "R@5": 0.5, "AR@5": 0.2,
                          "latency_ms_p50": 3.1, "latency_ms_p95": 7.9}, ...},
     "meta": {"embedder": "all-MiniLM-L6-v2", ...}}

Files are written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["markdown_table", "metric_columns", "write_report"]

_METRIC = re.compile(r"^(R|AR|nDCG|MRR)@(\d+)$")
_FAMILY_ORDER = {"R": 0, "AR": 1, "nDCG": 2, "MRR": 3}
_TAIL_ORDER = ("EM", "F1", "latency_ms_p50", "latency_ms_p95", "latency_ms_mean")
_LABELS = {"latency_ms_p50": "p50 ms", "latency_ms_p95": "p95 ms", "latency_ms_mean": "mean ms"}


def _column_key(name: str) -> tuple[int, int, int, str]:
    match = _METRIC.match(name)
    if match:
        return (0, _FAMILY_ORDER[match.group(1)], int(match.group(2)), name)
    if name in _TAIL_ORDER:
        return (1, _TAIL_ORDER.index(name), 0, name)
    return (2, 0, 0, name)


def metric_columns(result: Mapping[str, Any]) -> list[str]:
    """The metric names present in any retriever's results, in display order.

    Order: R@k, AR@k, nDCG@k, MRR@k (each by k), EM, F1, latency p50/p95/mean, then any
    other metric by name.

    Args:
        result: A result object (see the module docstring).

    Returns:
        The metric names.
    """
    names = {name for metrics in _results(result).values() for name in metrics}
    return sorted(names, key=_column_key)


def _results(result: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    results = result.get("results")
    if not isinstance(results, Mapping) or not all(
        isinstance(metrics, Mapping) for metrics in results.values()
    ):
        raise ValueError("result['results'] must map each retriever to a dict of metrics")
    return results


def _cell(name: str, value: Any) -> str:
    """Format one table cell: 3 decimals for metrics, 1 for latencies in ms."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.1f}" if name.startswith("latency_ms") else f"{value:.3f}"
    return _escape(str(value))


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(result: Mapping[str, Any]) -> str:
    """Render a result's metrics as a Markdown table, one row per retriever.

    Args:
        result: A result object (see the module docstring).

    Returns:
        The table, ending with a newline; a missing metric shows as "—".

    Raises:
        ValueError: ``result["results"]`` is not a mapping of metric mappings.
    """
    columns = metric_columns(result)
    header = ["retriever", *(_LABELS.get(name, name) for name in columns)]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(columns)) + "|",
    ]
    for retriever, metrics in _results(result).items():
        cells = [_escape(str(retriever)), *(_cell(n, metrics.get(n)) for n in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _markdown_report(result: Mapping[str, Any]) -> str:
    lines = [f"# Benchmark: {_escape(str(result.get('dataset', '?')))}", ""]
    for key in ("n_questions", "n_passages"):
        if key in result:
            lines.append(f"- {key}: {result[key]}")
    meta = result.get("meta") or {}
    for key, value in meta.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"- {_escape(str(key))}: {_escape(shown)}")
    lines += ["", markdown_table(result)]
    return "\n".join(lines)


def _plot(result: Mapping[str, Any], path: Path) -> None:
    """Draw Recall@k curves per retriever; nDCG bars when no R@k exists (BEIR)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = _results(result)
    figure = Figure(figsize=(6.4, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    recall_ks = sorted(
        {
            int(m.group(2))
            for metrics in results.values()
            for name in metrics
            if (m := _METRIC.match(name)) and m.group(1) == "R"
        }
    )
    ndcg = [name for name in metric_columns(result) if name.startswith("nDCG@")]
    if recall_ks:
        for retriever, metrics in results.items():
            points = [(k, metrics[f"R@{k}"]) for k in recall_ks if _finite(metrics.get(f"R@{k}"))]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", label=str(retriever))
        axes.set_xlabel("k")
        axes.set_ylabel("Recall@k")
        axes.set_xticks(recall_ks)
        axes.legend()
    elif ndcg:
        names = list(results)
        values = [
            results[n].get(ndcg[0]) if _finite(results[n].get(ndcg[0])) else 0.0 for n in names
        ]
        axes.bar([str(n) for n in names], values)
        axes.set_ylabel(ndcg[0])
    else:
        axes.text(0.5, 0.5, "no recall or nDCG metrics", ha="center", va="center")
    axes.set_ylim(0, 1.05)
    axes.set_title(str(result.get("dataset", "")))
    figure.tight_layout()
    figure.savefig(path, format="png")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _jsonable(value: Any) -> Any:
    """Replace non-finite floats with None so the file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _replace(path: Path, write: Any) -> None:
    """Write through ``write(tmp_path)`` then rename onto ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_report(out_dir: str | Path, result: Mapping[str, Any]) -> dict[str, Path]:
    """Write ``results.json``, ``report.md`` and ``recall.png`` into ``out_dir``.

    Args:
        out_dir: The folder to write; created when missing.
        result: A result object (see the module docstring). Non-finite numbers are
            written to JSON as null.

    Returns:
        ``{"json": ..., "markdown": ..., "png": ...}``, the paths written.

    Raises:
        ValueError: ``result["results"]`` is not a mapping of metric mappings.
        TypeError: ``result`` holds a value JSON cannot encode.
    """
    _results(result)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": folder / "results.json",
        "markdown": folder / "report.md",
        "png": folder / "recall.png",
    }
    payload = json.dumps(_jsonable(result), indent=2, ensure_ascii=False, allow_nan=False)
    _replace(paths["json"], lambda p: p.write_text(payload + "\n", encoding="utf-8"))
    markdown = _markdown_report(result)
    _replace(paths["markdown"], lambda p: p.write_text(markdown, encoding="utf-8"))
    _replace(paths["png"], lambda p: _plot(result, p))
    return paths
