"""`ragmem bench multihop --abstention`: both errors of abstention, on the answer path.

For each multi-hop set (a corpus with its own questions):

- in corpus: the set's own questions, which the corpus answers (their gold passages are
  in it): the share answered (`answered_own`) should be high;
- out of corpus: the other sets' questions whose gold passages are absent from this
  corpus, which it cannot answer: the share abstained (`abstained_other`) should be high.

The sets are all Wikipedia, so topics overlap: a question of another set counts as out of
corpus only when none of its gold passages' titles is a title of this corpus (titles
compared case- and space-insensitively); the others are left out and counted
(`dropped_overlap`). Every question goes through `RagService.ask` (retrieval, the
evidence check, the configured generator), so an abstention by the generator counts too.
`select_out_of_corpus` and `rates` are pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.datasets import Dataset, Question
from rag.retrieval.evidence import EVIDENCE_KEY

Progress = Callable[[str, int, int], None]


def norm_title(title: str) -> str:
    """A title compared across sets: lower-cased, runs of whitespace as one space."""
    return " ".join(title.lower().split())


def gold_titles(dataset: Dataset, question: Question) -> set[str]:
    """Normalized titles of a question's gold passages in its own set."""
    by_id = {p.id: p.title for p in dataset.passages}
    return {norm_title(by_id[g]) for g in question.gold_ids if g in by_id}


def select_out_of_corpus(target: Dataset, others: Sequence[Dataset], *, per_set: int | None = None,
                         ) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Questions of `others` that `target`'s corpus cannot answer (none of their gold
    titles is one of its titles), at most `per_set` from each, in file order.

    Returns:
        (the question texts, per source set: `kept` and `dropped_overlap` counts).
    """
    titles = {norm_title(p.title) for p in target.passages}
    chosen: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    for other in others:
        if other.name == target.name:
            continue
        kept = dropped = 0
        for question in other.questions:
            if per_set is not None and kept >= per_set:
                break
            gold = gold_titles(other, question)
            if not gold or gold & titles:
                dropped += 1
                continue
            chosen.append(question.question)
            kept += 1
        counts[other.name] = {"kept": kept, "dropped_overlap": dropped}
    return chosen, counts


def rates(own: Sequence[Mapping[str, Any]], other: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Shares answered in corpus and abstained out of corpus, from per-question rows
    (each with `abstained`), and who abstained (`by`: evidence, crag or the generator)."""
    def share(rows: Sequence[Mapping[str, Any]], abstained: bool) -> float | None:
        return round(sum(bool(r["abstained"]) == abstained for r in rows) / len(rows), 4) if rows else None

    def by(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in rows:
            if r["abstained"]:
                counts[r.get("by") or "generator"] = counts.get(r.get("by") or "generator", 0) + 1
        return counts

    return {"answered_own": share(own, False), "abstained_other": share(other, True),
            "n_own": len(own), "n_other": len(other),
            "abstained_own_by": by(own), "abstained_other_by": by(other)}


def ask_rows(service: Any, collection: Any, retriever: str, questions: Sequence[str], *,
             label: str, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Ask every question through the service; one row per question (abstained, by whom,
    the evidence signals, latency)."""
    rows = []
    for n, text in enumerate(questions, start=1):
        started = time.perf_counter()
        answer = service.ask(collection, text, retriever=retriever)
        trace = answer.retrieval
        evidence = trace.get(EVIDENCE_KEY) or {}
        by = None
        if answer.abstained:
            by = "crag" if (trace.get("crag") or {}).get("abstain") else (
                EVIDENCE_KEY if evidence.get("abstain") else "generator")
        rows.append({"abstained": answer.abstained, "by": by, "cosine": evidence.get("cosine"),
                     "coverage": evidence.get("coverage"),
                     "latency_ms": (time.perf_counter() - started) * 1000})
        if progress:
            progress(label, n, len(questions))
    return rows


def run_abstention(service: Any, targets: Sequence[Dataset], pool: Sequence[Dataset],
                   retrievers: Sequence[str], *, limit: int | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Answer rates in corpus and abstention rates out of corpus, per set and retriever.

    Args:
        targets: the sets whose corpora are asked.
        pool: the sets whose questions are asked out of corpus (a target's own set is
            skipped), so with the targets at least two sets.
        limit: at most this many own questions, and this many from each other set.

    Raises:
        ValueError: with no other set to take questions from, or no retriever.
    """
    from eval.runner import prepare_collection

    names = {d.name for d in [*targets, *pool]}
    if not targets or len(names) < 2:
        raise ValueError("the abstention benchmark needs at least two sets (a corpus's "
                         "out-of-corpus questions come from the others)")
    if not retrievers:
        raise ValueError("name at least one retriever")
    sets: dict[str, Any] = {}
    for target in targets:
        collection, facts = prepare_collection(service, target, progress=progress)
        own = [q.question for q in (target.questions[:limit] if limit else target.questions)]
        other, sources = select_out_of_corpus(target, pool, per_set=limit)
        results = {}
        for name in retrievers:
            own_rows = ask_rows(service, collection, name, own, label=f"{target.name} {name} own",
                                progress=progress)
            other_rows = ask_rows(service, collection, name, other,
                                  label=f"{target.name} {name} other", progress=progress)
            latency = [r["latency_ms"] for r in own_rows + other_rows]
            results[name] = {**rates(own_rows, other_rows),
                             "mean_ask_ms": round(sum(latency) / max(1, len(latency)), 1)}
        sets[target.name] = {"passages": len(target.passages), "out_of_corpus_sources": sources,
                             "collection": facts["collection"], "results": results}
    return {"kind": "abstention", "retrievers": list(retrievers), "limit": limit,
            "sets": sets, "totals": totals(sets, retrievers),
            "meta": {"embedder": service.embedder.name,
                     "evidence": service.settings.retrieval.evidence.model_dump()}}


def totals(sets: Mapping[str, Any], retrievers: Sequence[str]) -> dict[str, Any]:
    """Per retriever, the rates over every set's questions together (weighted by count)."""
    out = {}
    for name in retrievers:
        rows = [s["results"][name] for s in sets.values()]
        n_own, n_other = sum(r["n_own"] for r in rows), sum(r["n_other"] for r in rows)
        answered = sum((r["answered_own"] or 0) * r["n_own"] for r in rows)
        abstained = sum((r["abstained_other"] or 0) * r["n_other"] for r in rows)
        out[name] = {"answered_own": round(answered / n_own, 4) if n_own else None,
                     "abstained_other": round(abstained / n_other, 4) if n_other else None,
                     "n_own": n_own, "n_other": n_other}
    return out


def markdown(result: Mapping[str, Any]) -> str:
    """The result as a markdown table (one row per set and retriever, then the totals)."""
    lines = ["| corpus | retriever | answered in corpus | abstained out of corpus | n own | n other |",
             "|---|---|---:|---:|---:|---:|"]
    for set_name, block in result["sets"].items():
        for name, r in block["results"].items():
            lines.append(f"| {set_name} | {name} | {r['answered_own']:.1%} | "
                         f"{r['abstained_other']:.1%} | {r['n_own']} | {r['n_other']} |")
    for name, r in result["totals"].items():
        lines.append(f"| all | {name} | {r['answered_own']:.1%} | {r['abstained_other']:.1%} | "
                     f"{r['n_own']} | {r['n_other']} |")
    return "\n".join(lines)


def dataset_folders(root: Path) -> list[Path]:
    """The canonical multi-hop sets under `root` (folders with questions.json and
    corpus.json), by name.

    Raises:
        FileNotFoundError: when there is none.
    """
    found = sorted(p for p in Path(root).iterdir()
                   if (p / "questions.json").is_file() and (p / "corpus.json").is_file()) \
        if Path(root).is_dir() else []
    if not found:
        raise FileNotFoundError(f"{root}: no multi-hop set (a folder with questions.json and "
                                "corpus.json)")
    return found


def bench_abstention(questions: Path | None, corpus: Path | None, retrievers: str | None,
                     limit: int | None, data_dir: Path | None, as_json: bool,
                     out: Path | None) -> None:
    """`ragmem bench multihop [SET] --abstention`: the named set (or every set in the
    datasets folder's multihop/) as corpus, the other sets' questions out of corpus."""
    import json

    from eval.datasets import load_multihop
    from rag.cli.common import console, emit, load_settings, open_service, staged_progress

    settings = load_settings(data_dir)
    names = [n.strip() for n in (retrievers or settings.retrieval.retriever).split(",") if n.strip()]
    folders = dataset_folders(settings.datasets_dir / "multihop")
    with staged_progress() as progress:
        progress("loading datasets", 0, 1)
        pool = [load_multihop(f) for f in folders]
        targets = [load_multihop(questions, corpus)] if questions is not None else pool
        progress("loading datasets", 1, 1)
        service = open_service(data_dir)
        result = run_abstention(service, targets, pool, names, limit=limit, progress=progress)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        (out / "abstention.json").write_text(json.dumps(result, indent=1))
    emit(result, as_json, lambda r: console.print(markdown(r)))
