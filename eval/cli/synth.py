"""`ragmem synth CORPUS --out DIR`: write a synthetic multi-hop eval set (see eval.synth)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rag.cli.common import DataDirOption, JsonOption, cli_errors, console, emit, staged_progress


def synth(
    corpus: Annotated[str, typer.Argument(help="Passages as `ragmem ingest` takes them (a "
                                               ".json/.jsonl of records, a file or a folder), "
                                               "or with --collection a collection's name")],
    out: Annotated[Path, typer.Option("--out", help="Folder for corpus.json and "
                                                    "questions.json")],
    collection: Annotated[bool, typer.Option(
        "--collection", help="CORPUS names a stored collection (its documents)")] = False,
    max_questions: Annotated[int, typer.Option("--max-questions", min=1,
                                               help="At most this many questions")] = 200,
    seed: Annotated[int, typer.Option(help="Sampling seed (same corpus and seed, same "
                                           "set)")] = 0,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bridge and comparison questions from passages that name each other's titles, no
    LLM; gold passages are the two each question needs. Run `ragmem bench multihop DIR`
    on the output."""
    from eval.synth import collection_passages, iter_types, load_passages, synthesize, write_set

    with cli_errors():
        if collection:
            from rag.cli.common import open_service

            passages = collection_passages(open_service(data_dir), corpus)
        else:
            passages = load_passages(Path(corpus))
        with staged_progress() as progress:
            questions = synthesize(passages, max_questions=max_questions, seed=seed,
                                   progress=progress)
        paths = write_set(out, passages, questions)
        result = {"passages": len(passages), "questions": len(questions),
                  "types": dict(iter_types(questions)),
                  "files": {k: str(v) for k, v in paths.items()}}
        emit(result, as_json, lambda r: console.print(
            f"{r['questions']} questions ({', '.join(f'{k} {v}' for k, v in r['types'].items())}) "
            f"over {r['passages']} passages -> {out}"))
