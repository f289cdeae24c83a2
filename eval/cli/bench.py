"""`ragmem bench multihop|beir|speed|kg-speed`: retrieval benchmarks with reports.

`--cutoffs` names the R@k / AR@k cut-offs; `-k`/`--top-k` always means how many results
a command returns (ask, retrieve, memory), never a cut-off list.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from eval.startup import startup_command
from rag.cli.common import (
    DataDirOption,
    JsonOption,
    cli_errors,
    console,
    emit,
    load_settings,
    open_service,
    retriever_help,
    staged_progress,
)
from rag.errors import InvalidInputError

if TYPE_CHECKING:
    from eval.datasets import Dataset

bench_app = typer.Typer(help="Retrieval benchmarks (multi-hop QA, BEIR).", no_args_is_help=True)

RetrieversOption = Annotated[str, typer.Option("--retrievers", help="Comma-separated names of "
                                                                 f"{retriever_help()}")]
CutoffsOption = Annotated[str, typer.Option("--cutoffs", help="Comma-separated cut-offs for R@k "
                                                              "and AR@k (the k of the metrics).")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write results.json, report.md, "
                                                              "recall.png here.")]
LimitOption = Annotated[int | None, typer.Option("--limit", help="Only the first N questions.")]
OpenIEOption = Annotated[str | None, typer.Option(
    "--openie", help="Knowledge graph triples: a HippoRAG OpenIE file to import for the corpus "
                     "(openie_*_results_*.json), or 'offline' for spaCy's even where imported "
                     "ones are cached (default: the settings, imported first). The graph is "
                     "rebuilt when its triples change.")]


def _openie(value: str | None, retrievers: list[str]) -> str | None:
    if value is None:
        return None
    if "hipporag" not in retrievers:
        raise InvalidInputError("--openie is for the hipporag retriever; add it to --retrievers")
    if value != "offline" and not Path(value).is_file():
        raise FileNotFoundError(f"{value}: no such OpenIE file")
    return value


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise InvalidInputError("--retrievers names no retriever")
    return names


def _ks(text: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in text.split(",") if k.strip()})
    except ValueError as exc:
        raise InvalidInputError(f"--cutoffs must be comma-separated integers, got {text!r}") from exc
    if not ks or ks[0] < 1:
        raise InvalidInputError(f"--cutoffs needs positive integers, got {text!r}")
    return ks


def _run(load: Callable[[], Dataset], retrievers: str, cutoffs: str, out: Path | None, limit: int | None,
         data_dir: Path | None, as_json: bool, abstention: Path | None = None,
         answers: bool = False, openie: str | None = None) -> None:
    from eval.report import markdown_table, write_report
    from eval.runner import run_benchmark

    names = _names(retrievers)
    openie = _openie(openie, names)
    ks = _ks(cutoffs)
    # Every stage (loading, the model, storing, indexing, each retriever) shows on stderr,
    # so stdout stays clean JSON with --json and a long BEIR run is never silent.
    with staged_progress() as progress:
        progress("loading dataset", 0, 1)
        dataset = load()
        progress("loading dataset", 1, 1)
        progress("loading model", 0, 1)
        service = open_service(data_dir)
        progress("loading model", 1, 1)
        other = None
        if abstention is not None:
            from eval.runner import load_question_texts

            other = load_question_texts(abstention)
        result = run_benchmark(service, dataset, names, ks=ks, limit=limit,
                               progress=progress, other_questions=other, answers=answers,
                               openie=openie)
    if out:
        result["meta"]["files"] = {name: str(v) for name, v in write_report(out, result).items()}
    emit(result, as_json, lambda r: console.print(markdown_table(r)))


@bench_app.command("multihop")
def multihop(
    questions: Annotated[Path | None, typer.Argument(
        help="questions.json, or a folder holding questions.json and corpus.json (with "
             "--abstention, omit it for every set in the datasets folder)")] = None,
    corpus: Annotated[Path | None, typer.Argument(help="corpus.json")] = None,
    retrievers: Annotated[str | None, typer.Option(
        "--retrievers", help="Comma-separated names of " f"{retriever_help()} (default: "
                             "bm25,dense,hybrid; with --abstention the configured one)")] = None,
    cutoffs: CutoffsOption = "1,2,5,10",
    out: OutOption = None,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
    abstention: Annotated[bool, typer.Option(
        "--abstention", help="Measure abstention on the answer path instead of recall: each "
                             "set's own questions (answered?) and the other sets' questions "
                             "whose gold titles it lacks (abstained?); see eval/abstention.py.")] = False,
    negatives: Annotated[Path | None, typer.Option(
        "--negatives", help="Questions the corpus cannot answer (JSON or JSONL): report "
                            "answered_own and abstained_other per retriever.")] = None,
    answers: Annotated[bool, typer.Option(
        "--answers", help="Also answer each question (configured generator, top 5) and "
                          "report EM/F1 against the gold answers.")] = False,
    openie: OpenIEOption = None,
) -> None:
    """Recall@k / AR@k of retrievers on a multi-hop QA set (canonical or HippoRAG format).

    With `hipporag`, meta.kg reports the graph's triple sources and, when this run built
    it, OpenIE and graph-build passages per second.
    """
    from eval.datasets import load_multihop

    with cli_errors():
        if abstention:
            from eval.abstention import bench_abstention

            return bench_abstention(questions, corpus, retrievers, limit, data_dir, as_json, out)
        if questions is None:
            raise InvalidInputError("name the questions (or a dataset folder)")
        _run(lambda: load_multihop(questions, corpus), retrievers or "bm25,dense,hybrid", cutoffs,
             out, limit, data_dir, as_json, negatives, answers, openie)


@bench_app.command("beir")
def beir(
    folder: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, "
                                                "qrels/")],
    split: Annotated[str, typer.Option(help="qrels split")] = "test",
    retrievers: RetrieversOption = "bm25,dense,hybrid",
    cutoffs: CutoffsOption = "1,5,10,100",
    out: OutOption = None,
    limit: LimitOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """nDCG@10, MRR@10 and Recall@k of retrievers on a BEIR dataset (progress on stderr)."""
    from eval.datasets import load_beir

    with cli_errors():
        _run(lambda: load_beir(folder, split=split), retrievers, cutoffs, out, limit, data_dir, as_json)



@bench_app.command("speed")
def speed(
    datasets: Annotated[list[Path] | None, typer.Argument(
        help="Multi-hop dataset folders whose passages and questions to use "
             "(default: the three multihop sets in the datasets folder)")] = None,
    sizes: Annotated[str, typer.Option(help="Corpus sizes (chunks) for latency.")] = "10000,100000",
    ingest_passages: Annotated[int, typer.Option(help="Passages for the ingest ratio.")] = 500,
    ingest_rounds: Annotated[int, typer.Option(min=1, help="Alternating encode-only/ingest "
                                                          "rounds (fastest of each kept).")] = 3,
    queries: Annotated[int, typer.Option(help="Queries per measurement.")] = 200,
    backends: Annotated[str | None, typer.Option(
        "--backends", help="Compare these embedder backends instead (e.g. torch,onnx,onnx-int8): "
                           "ingest and query-encode speed side by side, ratios to the first")] = None,
    out: OutOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """BM25 vs rank-bm25, ingest vs encode-only, and latency as the corpus grows (ratios);
    or, with --backends, the embedder backends side by side."""
    import json

    from eval.datasets import load_multihop
    from eval.speed import run_speed

    with cli_errors():
        settings = load_settings(data_dir)
        folders = datasets or [settings.datasets_dir / "multihop" / n for n in
                               ("2wiki_dev_657", "musique_train_100", "hotpotqa_train_100")]
        loaded = [load_multihop(f) for f in folders]
        service = open_service(data_dir)
        with staged_progress() as progress:
            result = run_speed(service.embedder, settings, loaded, sizes=_ks(sizes),
                               ingest_passages=ingest_passages, ingest_rounds=ingest_rounds,
                               queries=queries, progress=progress,
                               backends=_names(backends) if backends else None)
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "speed.json").write_text(json.dumps(result, indent=1))
        emit(result, as_json, lambda r: console.print_json(data=r))


@bench_app.command("kg-speed")
def kg_speed(
    dataset: Annotated[Path, typer.Argument(help="A multi-hop dataset folder (corpus.json, "
                                                 "questions.json)")],
    openie: Annotated[str | None, typer.Option(
        "--openie", help="A HippoRAG OpenIE file to import, or 'offline' (see bench "
                         "multihop)")] = None,
    openie_passages: Annotated[int, typer.Option(help="Passages for the spaCy OpenIE "
                                                      "speed.")] = 500,
    queries: Annotated[int, typer.Option(help="Questions for the PPR comparison.")] = 200,
    out: OutOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Knowledge graph costs: spaCy OpenIE and graph-build passages/s, and PPR time per
    query against networkx.pagerank (same graph, personalization, damping; ratio and
    top-10 agreement)."""
    import json

    from eval.datasets import load_multihop
    from eval.kg_speed import run_kg_speed

    with cli_errors():
        openie = _openie(openie, ["hipporag"])
        loaded = load_multihop(dataset)
        service = open_service(data_dir)
        with staged_progress() as progress:
            result = run_kg_speed(service, loaded, openie=openie, openie_passages=openie_passages,
                                  queries=queries, progress=progress)
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / "kg_speed.json").write_text(json.dumps(result, indent=1))
        emit(result, as_json, lambda r: console.print_json(data=r))


from eval.cli.scale import scale  # noqa: E402  (issue 13's `bench scale`, in its own file)

bench_app.command("scale")(scale)


bench_app.command("startup")(startup_command)  # start-up wall time of the CLI (issue 19.7)

from eval.cli.replicas import replicas  # noqa: E402  (issue 14: two replicas over PostgreSQL)

bench_app.command("replicas")(replicas)

from eval.cli.ingest import ingest_bench  # noqa: E402  (issue 15: local against Ray Data)

bench_app.command("ingest")(ingest_bench)
