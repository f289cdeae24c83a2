"""Benchmark dataset loaders: multi-hop QA (canonical and HippoRAG raw) and BEIR.

Formats read (see ``../shared/datasets/README.md``):

* canonical multi-hop: ``corpus.json`` = ``[{"id", "title", "text"}]`` and
  ``questions.json`` = ``[{"id", "question", "answer", "answer_aliases", "gold_ids"}]``;
* HippoRAG raw, MuSiQue style: ``paragraphs[].is_supporting``; gold passages are matched
  by identity (title + whitespace-normalized text), never by title (titles repeat);
* HippoRAG raw, HotpotQA/2Wiki style: ``supporting_facts`` ``[[title, sent_idx], ...]``;
  gold passages are those whose title is supported (titles are unique there);
* BEIR: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

A raw corpus is a list of ``{title, text}`` (ids are list positions) or a dict
``title -> sentences`` (joined with ``""``; ids are positions in file order).
Record numbers in error messages are 0-based positions in the file.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InvalidInputError

__all__ = [
    "Dataset",
    "DatasetFormatError",
    "Passage",
    "Question",
    "load_beir",
    "load_dataset",
    "load_multihop",
]


class DatasetFormatError(InvalidInputError):
    """A dataset file is malformed; the message names the file and the record or field."""


@dataclass(frozen=True)
class Passage:
    """One retrievable passage of a benchmark corpus."""

    id: str
    title: str
    text: str

    @property
    def indexed_text(self) -> str:
        """The text to index: ``title + "\\n" + text``, or just the text without a title."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class Question:
    """One evaluation question; ``relevance`` holds graded BEIR qrels (None for multi-hop)."""

    id: str
    question: str
    answers: tuple[str, ...]
    gold_ids: tuple[str, ...]
    relevance: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Dataset:
    """A loaded benchmark: passages, questions and the kind (``"multihop"`` or ``"beir"``)."""

    name: str
    passages: list[Passage]
    questions: list[Question]
    kind: str

    def corpus_hash(self) -> str:
        """Return a stable SHA-256 hex digest over the passages' (id, title, text), in order."""
        digest = hashlib.sha256()
        for passage in self.passages:
            record = json.dumps([passage.id, passage.title, passage.text], ensure_ascii=False)
            digest.update(record.encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()


def _identity(title: str, text: str) -> tuple[str, str]:
    """A passage's identity: title and text with whitespace runs collapsed."""
    return " ".join(title.split()), " ".join(text.split())


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path}: invalid JSON ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{path}: not UTF-8 text ({exc})") from exc


def _field(record: Any, key: str, path: Path, pos: int, kind: type | tuple = str) -> Any:
    """Return ``record[key]`` after checking the record is a dict and the value's type."""
    if not isinstance(record, dict):
        raise DatasetFormatError(f"{path}: record {pos} is not an object")
    if key not in record:
        raise DatasetFormatError(f"{path}: record {pos} has no {key!r}")
    value = record[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise DatasetFormatError(f"{path}: record {pos} field {key!r} has the wrong type")
    return value


def _sentences(value: Any, path: Path, title: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return "".join(value)
    raise DatasetFormatError(f"{path}: entry {title!r} is not a string or a list of strings")


def _parse_corpus(data: Any, path: Path) -> list[Passage]:
    """Parse a canonical or raw corpus (list of records or dict title -> sentences)."""
    if isinstance(data, dict):
        return [
            Passage(str(pos), title, _sentences(value, path, title))
            for pos, (title, value) in enumerate(data.items())
        ]
    if not isinstance(data, list):
        raise DatasetFormatError(f"{path}: corpus must be a JSON list or object")
    passages: dict[str, Passage] = {}
    for pos, record in enumerate(data):
        text = _field(record, "text", path, pos)
        title = _field(record, "title", path, pos) if "title" in record else ""
        pid = str(_field(record, "id", path, pos, (str, int))) if "id" in record else str(pos)
        if pid in passages:
            raise DatasetFormatError(f"{path}: record {pos} repeats id {pid!r}")
        passages[pid] = Passage(pid, title, text)
    return list(passages.values())


def _answers(record: dict, path: Path, pos: int) -> tuple[str, ...]:
    """Collect ``answer`` (a string or list) and ``answer_aliases``, de-duplicated in order."""
    raw = record.get("answer", [])
    found = [raw] if isinstance(raw, str) else raw
    aliases = record.get("answer_aliases", [])
    if not isinstance(found, list) or not isinstance(aliases, list):
        raise DatasetFormatError(f"{path}: record {pos} field 'answer' has the wrong type")
    values = [*found, *aliases]
    if not all(isinstance(value, str) for value in values):
        raise DatasetFormatError(f"{path}: record {pos} has a non-string answer")
    return tuple(dict.fromkeys(values))


def _question_id(record: dict, path: Path, pos: int) -> str:
    for key in ("id", "_id"):
        if key in record:
            return str(_field(record, key, path, pos, (str, int)))
    return str(pos)


def _gold_canonical(record: dict, path: Path, pos: int, ids: set[str]) -> list[str]:
    gold = _field(record, "gold_ids", path, pos, list)
    out = [str(value) for value in gold]
    for value in out:
        if value not in ids:
            raise DatasetFormatError(f"{path}: record {pos} gold id {value!r} is not in the corpus")
    return out


def _gold_paragraphs(
    record: dict, path: Path, pos: int, by_identity: dict[tuple[str, str], str]
) -> list[str]:
    paragraphs = _field(record, "paragraphs", path, pos, list)
    out = []
    for para in paragraphs:
        if not isinstance(para, dict) or not para.get("is_supporting"):
            continue
        text = para.get("paragraph_text", para.get("text"))
        if not isinstance(text, str) or not isinstance(para.get("title", ""), str):
            raise DatasetFormatError(f"{path}: record {pos} has a paragraph without text")
        key = _identity(para.get("title", ""), text)
        if key not in by_identity:
            raise DatasetFormatError(
                f"{path}: record {pos} supporting paragraph {key[0]!r} is not in the corpus"
            )
        out.append(by_identity[key])
    return out


def _gold_supporting_facts(
    record: dict, path: Path, pos: int, by_title: dict[str, list[str]]
) -> list[str]:
    facts = _field(record, "supporting_facts", path, pos, list)
    out = []
    for fact in facts:
        if not isinstance(fact, list) or not fact or not isinstance(fact[0], str):
            raise DatasetFormatError(f"{path}: record {pos} has a malformed supporting fact")
        if fact[0] not in by_title:
            raise DatasetFormatError(
                f"{path}: record {pos} supporting title {fact[0]!r} is not in the corpus"
            )
        out.extend(by_title[fact[0]])
    return out


def _detect_style(records: list, path: Path) -> str:
    """Name the question format by the first record's gold field."""
    if not isinstance(records[0], dict):
        raise DatasetFormatError(f"{path}: record 0 is not an object")
    for key in ("gold_ids", "paragraphs", "supporting_facts"):
        if key in records[0]:
            return key
    raise DatasetFormatError(
        f"{path}: record 0 has none of 'gold_ids', 'paragraphs', 'supporting_facts'"
    )


def _parse_questions(data: Any, path: Path, passages: list[Passage]) -> list[Question]:
    """Parse questions in any multi-hop format and resolve their gold passage ids."""
    if not isinstance(data, list) or not data:
        raise DatasetFormatError(f"{path}: questions must be a non-empty JSON list")
    style = _detect_style(data, path)
    ids = {p.id for p in passages}
    by_identity: dict[tuple[str, str], str] = {}
    by_title: dict[str, list[str]] = {}
    for passage in passages:
        by_identity.setdefault(_identity(passage.title, passage.text), passage.id)
        by_title.setdefault(passage.title, []).append(passage.id)
    questions = []
    for pos, record in enumerate(data):
        text = _field(record, "question", path, pos)
        if style == "gold_ids":
            gold = _gold_canonical(record, path, pos, ids)
        elif style == "paragraphs":
            gold = _gold_paragraphs(record, path, pos, by_identity)
        else:
            gold = _gold_supporting_facts(record, path, pos, by_title)
        if not gold:
            raise DatasetFormatError(f"{path}: record {pos} has no gold passages")
        qid, answers = _question_id(record, path, pos), _answers(record, path, pos)
        questions.append(Question(qid, text, answers, tuple(dict.fromkeys(gold))))
    return questions


def load_multihop(
    questions_path: str | Path,
    corpus_path: str | Path | None = None,
    *,
    name: str | None = None,
) -> Dataset:
    """Load a multi-hop QA set in the canonical or a HippoRAG raw format.

    The question format is detected from the first record (``gold_ids``, ``paragraphs``
    or ``supporting_facts``); the corpus may be a list of records or a dict
    title -> sentences.

    Args:
        questions_path: The questions file, or a folder holding ``questions.json`` and
            ``corpus.json`` when ``corpus_path`` is None.
        corpus_path: The corpus file that goes with ``questions_path``.
        name: The dataset name; defaults to the folder name (folder form) or the
            questions file's stem.

    Returns:
        The dataset, ``kind="multihop"``.

    Raises:
        FileNotFoundError: A named file or folder does not exist.
        DatasetFormatError: A file is malformed, or a gold passage is not in the corpus.
    """
    qpath = Path(questions_path)
    if corpus_path is None:
        if not qpath.is_dir():
            raise FileNotFoundError(f"{qpath}: not a folder (give the corpus file too)")
        default_name = qpath.name
        qpath, cpath = qpath / "questions.json", qpath / "corpus.json"
        for required in (qpath, cpath):
            if not required.is_file():
                raise DatasetFormatError(f"{required.parent}: missing {required.name}")
    else:
        cpath = Path(corpus_path)
        default_name = qpath.stem
    passages = _parse_corpus(_read_json(cpath), cpath)
    if not passages:
        raise DatasetFormatError(f"{cpath}: the corpus is empty")
    questions = _parse_questions(_read_json(qpath), qpath, passages)
    return Dataset(name or default_name, passages, questions, "multihop")


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """Read a JSON Lines file into (line number, record) pairs; blank lines are skipped."""
    rows = []
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetFormatError(f"{path}: line {lineno} is not JSON ({exc})") from exc
            if not isinstance(record, dict):
                raise DatasetFormatError(f"{path}: line {lineno} is not an object")
            rows.append((lineno, record))
    return rows


def _beir_text(record: dict, key: str, path: Path, lineno: int) -> str:
    value = record.get(key)
    if key not in record or not isinstance(value, str | int) or isinstance(value, bool):
        raise DatasetFormatError(f"{path}: line {lineno} has no {key!r}")
    return str(value)


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read ``query-id corpus-id score`` rows (tab separated, with a header row)."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for lineno, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (lineno == 1 and row[0].strip() == "query-id"):
                continue
            if len(row) != 3:
                raise DatasetFormatError(f"{path}: line {lineno} does not have 3 columns")
            try:
                score = int(row[2])
            except ValueError as exc:
                raise DatasetFormatError(
                    f"{path}: line {lineno} score {row[2]!r} is not an integer"
                ) from exc
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = score
    return qrels


def load_beir(folder: str | Path, *, split: str = "test", name: str | None = None) -> Dataset:
    """Load a BEIR dataset folder.

    Only queries with at least one positive judgement in ``qrels/<split>.tsv`` are kept,
    as in BEIR's evaluation. ``gold_ids`` are the positively judged documents;
    ``relevance`` keeps every judgement (graded) for nDCG.

    Args:
        folder: The folder holding ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/``.
        split: The qrels split to evaluate (``qrels/<split>.tsv``).
        name: The dataset name; defaults to the folder name.

    Returns:
        The dataset, ``kind="beir"``.

    Raises:
        FileNotFoundError: The folder does not exist.
        DatasetFormatError: A file is missing or malformed, or qrels name an unknown query.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    cpath, qpath = root / "corpus.jsonl", root / "queries.jsonl"
    rpath = root / "qrels" / f"{split}.tsv"
    for required in (cpath, qpath, rpath):
        if not required.is_file():
            raise DatasetFormatError(f"{root}: missing {required.relative_to(root)}")
    passages = []
    for n, rec in _read_jsonl(cpath):
        pid, text = _beir_text(rec, "_id", cpath, n), _beir_text(rec, "text", cpath, n)
        passages.append(Passage(pid, str(rec.get("title") or ""), text))
    queries = {
        _beir_text(rec, "_id", qpath, n): _beir_text(rec, "text", qpath, n)
        for n, rec in _read_jsonl(qpath)
    }
    questions = []
    for qid, judged in _read_qrels(rpath).items():
        gold = tuple(doc for doc, score in judged.items() if score > 0)
        if not gold:
            continue
        if qid not in queries:
            raise DatasetFormatError(f"{rpath}: query {qid!r} is not in {qpath.name}")
        questions.append(Question(qid, queries[qid], (), gold, dict(judged)))
    if not questions:
        raise DatasetFormatError(f"{rpath}: no query has a positive judgement")
    return Dataset(name or root.name, passages, questions, "beir")


def load_dataset(
    path: str | Path,
    corpus_path: str | Path | None = None,
    *,
    name: str | None = None,
    split: str = "test",
) -> Dataset:
    """Load a BEIR folder (it holds ``corpus.jsonl``), a multi-hop folder or a file pair.

    Args and errors are those of :func:`load_beir` and :func:`load_multihop`.
    """
    root = Path(path)
    if corpus_path is None and (root / "corpus.jsonl").is_file():
        return load_beir(root, split=split, name=name)
    return load_multihop(root, corpus_path, name=name)
