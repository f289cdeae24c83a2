"""`ragmem synth`: a synthetic multi-hop eval set from any corpus, without an LLM.

SYNTHESIZRR-style (Divekar & Durrett 2024: questions grounded in retrieved documents)
with templates instead of an LLM. Passages are linked where one names another's title
(a bridge entity, found by spaCy NER or by the title itself). Two templates, both filled
from the passages' own sentences so every question is answerable from its two gold
passages and only from both:

* bridge: passage A's sentence names B's title T; a sentence of B about T holds a typed
  entity E (a place, date, person, number, ...) that A does not hold. The question masks T
  in A's sentence and E in B's: ``X was born in where? (X: the name masked in "Sleep,
  My Love is a 1948 film directed by X.")`` -- hop 1 finds X through A, hop 2 reads E in B.
  Answer E; gold [A, B].
* comparison: two linked passages whose opening sentence each gives a year: ``Which
  comes first by the year its passage opens with, A or B?`` Answer: that title; gold
  [A, B].

The output is the canonical multi-hop format (``corpus.json``, ``questions.json``) that
`ragmem bench multihop DIR` reads; each question also says its ``type``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from eval.datasets import Passage
from indexes.kg.openie import normalize_phrase
from rag.errors import InvalidInputError
from rag.generation.question_types import find_dates
from rag.ingest.chunking import chunk_text, split_sentences

# spaCy label of the answer -> the wh-word that replaces it.
ANSWER_WH = {"GPE": "where", "LOC": "where", "FAC": "where", "DATE": "when", "PERSON": "who",
             "ORG": "what", "NORP": "what", "CARDINAL": "how many", "WORK_OF_ART": "what",
             "EVENT": "what", "LANGUAGE": "what"}
_PRONOUN_START = re.compile(r"^(?:He|She|It|They|His|Her|Its|Their)\b")
MAX_SENTENCE_CHARS = 240


def load_passages(path: Path) -> list[Passage]:
    """Passages from a file or folder as `ragmem ingest` takes them (.json/.jsonl records
    keep their id and title; other files are one document each); documents over 1,500
    characters are cut into chunks of about 1,000 (ids ``doc#n``).

    Raises:
        FileNotFoundError: the path does not exist.
        InvalidInputError: nothing readable in it.
    """
    from rag.ingest.parsers import SUPPORTED_SUFFIXES, parse_file

    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower()
                   in SUPPORTED_SUFFIXES) if path.is_dir() else [path]
    passages: list[Passage] = []
    for file in files:
        for n, doc in enumerate(parse_file(file.name, file.read_bytes())):
            base = doc.external_id or f"{file.stem}-{n}" if len(files) > 1 else (
                doc.external_id or str(len(passages)))
            passages.extend(split_document(base, doc.title, doc.text))
    return _checked(passages, str(path))


def split_document(pid: str, title: str, text: str) -> list[Passage]:
    """A document as passages: whole up to 1,500 characters, else chunks of about 1,000
    (ids ``pid#n``)."""
    spans = [(0, len(text))] if len(text) <= 1500 else chunk_text(text)
    if len(spans) == 1:
        return [Passage(pid, title, text)]
    return [Passage(f"{pid}#{k}", title, text[s:e]) for k, (s, e) in enumerate(spans)]


def _checked(passages: list[Passage], where: str) -> list[Passage]:
    if not passages:
        raise InvalidInputError(f"{where}: no passages to build questions from")
    if len({p.id for p in passages}) != len(passages):
        raise InvalidInputError(f"{where}: passage ids repeat; give each record a unique 'id'")
    return passages


def collection_passages(service: Any, name: str) -> list[Passage]:
    """The documents of a stored collection as passages (ids: the document ids)."""
    collection = service.collection(name)
    docs = service.store.document_texts(collection)
    return _checked([p for d in docs for p in split_document(d.id, d.title, d.text)],
                    f"collection {name!r}")


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(s, e) for s, e in split_sentences(text) if 20 <= e - s <= MAX_SENTENCE_CHARS]


def _mentions(text: str, name: str) -> list[int]:
    """Where `name` occurs in `text` as whole words (case-sensitive, as titles are)."""
    return [m.start() for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text)]


def _clean_title(title: str) -> str:
    return re.sub(r"\s*\([^)]*\)$", "", title).strip()


def _inside_name(text: str, start: int, end: int, sentence_start: int) -> bool:
    """Whether a title match is part of a longer name ("United" in "United States"): a
    capitalised word right after it, or right before it (not at the sentence start)."""
    after = re.match(r" ([A-Z][a-z]+)", text[end:end + 30])
    before = re.search(r"([A-Z][a-z]+) $", text[max(sentence_start, start - 30):start])
    return bool(after) or bool(before and start - len(before.group(0)) > sentence_start)


def find_links(passages: Sequence[Passage]) -> list[tuple[int, int, int, int]]:
    """(a, b, start, end): passage a's sentence text[start:end] names passage b's title.

    Titles shorter than 4 characters or shared by several passages are not links (they
    would not say which passage is meant).
    """
    by_title: dict[str, list[int]] = {}
    for n, p in enumerate(passages):
        title = _clean_title(p.title)
        if len(title) >= 4:
            by_title.setdefault(title, []).append(n)
    unique = {t: ns[0] for t, ns in by_title.items() if len(ns) == 1}
    # One regex over all titles (longest first) instead of a scan per title.
    if not unique:
        return []
    pattern = re.compile("(?<!\\w)(" + "|".join(re.escape(t) for t in sorted(
        unique, key=len, reverse=True)) + ")(?!\\w)")
    links = []
    for a, p in enumerate(passages):
        for start, end in _sentences(p.text):
            for m in pattern.finditer(p.text, start, end):
                b = unique[m.group(1)]
                if b != a and not _inside_name(p.text, m.start(), m.end(), start):
                    links.append((a, b, start, end))
    return links


def _fact(doc: Any, text: str, title: str, taken: str) -> tuple[str, str, int, int, int, int] | None:
    """A sentence of B about its title (it starts with the title or a pronoun) holding
    an entity whose text is not in `taken` (A's text) nor in the title: (label, answer,
    sentence start, sentence end, answer start, answer end)."""
    for sent in doc.sents:
        s, e = sent.start_char, sent.end_char
        sentence = text[s:e]
        if not 20 <= len(sentence) <= MAX_SENTENCE_CHARS:
            continue
        if not (sentence.startswith(title) or _PRONOUN_START.match(sentence)):
            continue
        if re.search(r"[{}\[\]|<>]", sentence):
            continue  # markup or a broken record, not prose
        for ent in sent.ents:
            answer = ent.text.strip(" ,.;:")
            inside = text[s:ent.start_char].count("(") > text[s:ent.start_char].count(")")
            joined = text[ent.end_char:ent.end_char + 1] in ("-", "'")
            if (ent.label_ in ANSWER_WH and len(answer) >= 2 and answer not in taken
                    and not inside and not joined and any(ch.isalnum() for ch in answer)
                    and normalize_phrase(answer) not in normalize_phrase(title)
                    and ent.start_char > s + (len(title) if sentence.startswith(title) else 0)):
                return ent.label_, answer, s, e, ent.start_char, ent.start_char + len(answer)
    return None


def resolve_pronoun(sentence: str, title: str) -> str:
    """A sentence's leading pronoun replaced by its passage's title ("It stars X." ->
    "Sleep, My Love stars X."), so the clue says which passage it comes from."""
    match = _PRONOUN_START.match(sentence)
    if not match or not title:
        return sentence
    possessive = match.group(0) in ("His", "Her", "Its", "Their")
    return f"{title}{chr(39) + 's' if possessive else ''}{sentence[match.end():]}"


def bridge_question(a: Passage, b: Passage, a_span: tuple[int, int], fact: tuple,
                    ) -> dict[str, Any]:
    """The bridge template (see the module docstring), answer and gold [a, b]."""
    label, answer, s, e, ans_start, ans_end = fact
    title = _clean_title(b.title)
    clue = resolve_pronoun(a.text[a_span[0]:a_span[1]], _clean_title(a.title))
    clue = clue.replace(title, "X").strip()
    sentence = b.text[s:ans_start] + ANSWER_WH[label] + b.text[ans_end:e]
    sentence = sentence.strip().rstrip(".!") + "?"
    if sentence.startswith(title):
        sentence = "X" + sentence[len(title):]
    else:  # a pronoun subject: "He was born in where?" -> "X was born in where?"
        sentence = _PRONOUN_START.sub("X", sentence, count=1)
    return {"question": f'{sentence} (X: the name masked in "{clue}")', "answer": answer,
            "answer_aliases": [], "gold_ids": [a.id, b.id], "type": "bridge"}


def opening_year(p: Passage) -> int | None:
    """The first year in a passage's first sentence, if any."""
    spans = split_sentences(p.text)
    if not spans:
        return None
    dates = find_dates(p.text[spans[0][0]:spans[0][1]])
    return dates[0].key[0] if dates else None


def comparison_question(a: Passage, b: Passage) -> dict[str, Any] | None:
    """The comparison template for two passages whose openings give different years."""
    ya, yb = opening_year(a), opening_year(b)
    if ya is None or yb is None or ya == yb:
        return None
    ta, tb = _clean_title(a.title), _clean_title(b.title)
    return {"question": f"Which comes first by the year its passage opens with, {ta} or {tb}?",
            "answer": ta if ya < yb else tb, "answer_aliases": [],
            "gold_ids": [a.id, b.id], "type": "comparison"}


def _try_bridge(passages: Sequence[Passage], a: int, b: int, span: tuple[int, int],
                docs: dict[int, Any], nlp: Any) -> dict[str, Any] | None:
    """The bridge question for link a -> b, or None when B states no usable fact."""
    for n in (a, b):
        if n not in docs:
            docs[n] = nlp(passages[n].text)  # parsed once, on first use
    title = _clean_title(passages[b].title)
    fact = _fact(docs[b], passages[b].text, title, passages[a].text)
    if fact is None:
        return None
    return bridge_question(passages[a], passages[b], span, fact)


def synthesize(passages: Sequence[Passage], *, max_questions: int = 200, seed: int = 0,
               nlp: Any = None, progress: Callable[[str, int, int], None] | None = None,
               ) -> list[dict[str, Any]]:
    """Bridge and comparison questions (about two bridge questions per comparison),
    at most one question per passage pair, in a seeded random order.

    Args:
        passages: the corpus; titles are the bridge entities.
        max_questions: the most questions to return.
        seed: the sampling seed (the same corpus and seed give the same set).
        nlp: a spaCy pipeline (default: the offline OpenIE model, loaded here).
    """
    if max_questions < 1:
        raise InvalidInputError(f"max_questions must be >= 1, got {max_questions}")
    links = find_links(passages)
    rng = random.Random(seed)
    rng.shuffle(links)
    if nlp is None:
        from indexes.kg.openie import load_spacy

        nlp = load_spacy()
    docs: dict[int, Any] = {}
    questions: list[dict[str, Any]] = []
    pairs: set[frozenset[int]] = set()
    used: set[int] = set()
    for done, (a, b, start, end) in enumerate(links, start=1):
        if progress:
            progress("questions", done, len(links))
        if len(questions) >= max_questions:
            break
        pair = frozenset((a, b))
        if pair in pairs or b in used:
            continue
        if len(questions) % 3 == 2:  # every third question compares, where years allow
            question = comparison_question(passages[a], passages[b])
            if question:
                questions.append(question)
                pairs.add(pair)
                continue
        question = _try_bridge(passages, a, b, (start, end), docs, nlp)
        if question:
            questions.append(question)
            pairs.add(pair)
            used.add(b)  # one fact question per target passage: no set of near-repeats
    for n, question in enumerate(questions):
        question["id"] = f"synth-{n}"
    return questions


def write_set(out: Path, passages: Sequence[Passage], questions: Sequence[dict[str, Any]],
              ) -> dict[str, Path]:
    """Write ``corpus.json`` and ``questions.json`` (canonical multi-hop format)."""
    if not questions:
        raise InvalidInputError("no question could be built: the corpus needs passages that "
                                "name other passages' titles")
    out.mkdir(parents=True, exist_ok=True)
    corpus = [{"id": p.id, "title": p.title, "text": p.text} for p in passages]
    paths = {"corpus": out / "corpus.json", "questions": out / "questions.json"}
    paths["corpus"].write_text(json.dumps(corpus, ensure_ascii=False, indent=1), encoding="utf-8")
    paths["questions"].write_text(json.dumps(list(questions), ensure_ascii=False, indent=1),
                                  encoding="utf-8")
    return paths


def iter_types(questions: Sequence[dict[str, Any]]) -> Iterator[tuple[str, int]]:
    """(type, count) of a question set, for the command's summary."""
    counts: dict[str, int] = {}
    for q in questions:
        counts[q["type"]] = counts.get(q["type"], 0) + 1
    yield from sorted(counts.items())
