"""Extractive answers with no model: the best supporting sentences, each cited.

A sentence's score mixes its embedding similarity to the question (the sentence is
embedded with its passage title, so "He was born in 1950." keeps its subject), the share
of the question's terms it contains, and a prior for its passage's retrieval rank.

Headings ("# Notes", "Parking", a PDF's "Mount Etna" line) are not answers: a heading-only
sentence is skipped and becomes the context of the sentences under it (embedded and
matched with them), so "Where can I park?" finds "Level -2, spots 40 to 55" under
"Parking". Questions (a session's earlier user turns, an FAQ's questions) are not answers
either. For Chinese and Japanese, whose bigram terms straddle word boundaries, the share
of the question's content characters found in the sentence counts too.

Short answers: when the reader (`rag.generation.reader`) finds a span of the wanted
type that scores at least `min_reading`, `answer` is that span with the markers of the
sentences it comes from ("Cork [1]", "yes [1] [2]"), and `supporting_text` holds the cited
sentences as the sentence answer would have been ("... buried in Cork. [1] ..."). The
supporting sentences come first among the citations. Otherwise `answer` is the sentences
and `supporting_text` is None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexes.embedder import Embedder
from indexes.errors import MissingDependencyError
from indexes.tokenize import BM25Tokenizer
from rag.generation.answers import NO_ANSWER, Answer, Citation, Passage
from rag.generation.reader import Reader, Reading, ScoredSentence
from rag.ingest.chunking import split_sentences

SEMANTIC_WEIGHT = 0.6
LEXICAL_WEIGHT = 0.3
RANK_WEIGHT = 0.1
# A reading this good replaces the sentences as `answer` (the reader's scores: about 0.5
# for a choice without comparable evidence, up to 1.0 for dates compared; entity spans
# sum sentence, proximity and rank scores, at most about 1.9).
MIN_READING = 0.5

_MD_HEADING = re.compile(r"#{1,6}[ \t]+(?P<text>.+?)(?:[ \t]+#+)?[ \t]*")
_SECTION_NUMBER = re.compile(r"(?:\d+(?:\.\d+)*\.?|[IVXLC]+\.)[ \t]+")
_NOT_HEADING_START = tuple("-*+\u2022|>([\"'")
_HEADING_ENDS = frozenset(".!?:;,\u2026\u3002\uff01\uff1f\uff0c\uff1a\uff1b\"')]")
_HEADING_MAX_WORDS = 10
_HEADING_MAX_CHARS = 80
_TABLE_RULE = re.compile(r"\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)*\|?")
_QUESTION_ENDS = ("?", "\uff1f")
_CJK_CHAR = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
# Question words and particles that carry no content ("什么" what, "吗" yes/no, "的" of).
_CJK_FUNCTION = frozenset("什么吗呢吧哪谁怎几多少为何是的了在有和与及把被也都还就这那个些们")


@dataclass(frozen=True)
class Candidate:
    """One sentence of one passage, with the heading it sits under (if any)."""

    passage: int
    start: int
    end: int
    heading: str = ""


def heading_text(text: str, start: int, end: int) -> str | None:
    """The heading that the sentence ``text[start:end]`` is, or None when it is not one.

    A heading stands alone on its line(s), is followed by more text, and is either a
    markdown heading ("## Parking") or short (at most 10 words, 80 characters) with no
    final punctuation, no comma and no digits other than a section number ("2.1 Results");
    list items, table rows and quotes are not headings.
    """
    if end - start > 2 * _HEADING_MAX_CHARS:
        return None
    sentence = text[start:end]
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    if text[line_start:start].strip() or text[end:len(text) if line_end < 0 else line_end].strip():
        return None  # shares its line with other text
    if not text[end:].strip():
        return None  # nothing under it: a one-line passage is content
    marked = _MD_HEADING.fullmatch(sentence)
    if marked:
        return marked.group("text")
    if sentence.startswith(_NOT_HEADING_START) or sentence[-1] in _HEADING_ENDS:
        return None
    if "," in sentence or "\n" in sentence or len(sentence) > _HEADING_MAX_CHARS:
        return None
    body = sentence[_SECTION_NUMBER.match(sentence).end():] if _SECTION_NUMBER.match(sentence) else sentence
    if any(ch.isdigit() for ch in body) or len(body.split()) > _HEADING_MAX_WORDS:
        return None
    return sentence if body[:1].isupper() or _CJK_CHAR.match(body[:1] or " ") else None


def is_question(sentence: str) -> bool:
    """Whether a sentence asks rather than states (ends with a question mark)."""
    return sentence.rstrip(" \t\"'\u201d\u2019)\uff09").endswith(_QUESTION_ENDS)


def _states(sentence: str) -> bool:
    """A sentence that can answer: it has a letter or digit ("|---|" has none) and does
    not ask."""
    return any(ch.isalnum() for ch in sentence) and not is_question(sentence)


def sentence_candidates(passages: Sequence[Passage], *, max_chars: int = 600) -> list[Candidate]:
    """Every sentence of every passage that may answer (offsets within the passage text):
    headings, table header rows and questions are left out; each sentence keeps its
    latest heading (and the header of its table) as context."""
    found = []
    for n, passage in enumerate(passages):
        text, heading, header = passage.text, "", ""
        spans = split_sentences(text)
        for i, (start, end) in enumerate(spans):
            title = heading_text(text, start, end)
            if title is not None:
                heading, header = title, ""
            elif _TABLE_RULE.fullmatch(text[start:end]):
                continue
            elif i + 1 < len(spans) and _TABLE_RULE.fullmatch(text[spans[i + 1][0]:spans[i + 1][1]]):
                header = text[start:end]  # a table's header row: context of the rows below
            elif end - start >= 3 and _states(text[start:end]):
                context = ": ".join(part for part in (heading, header) if part)
                found.append(Candidate(n, start, min(end, start + max_chars), context))
    return found


def content_chars(text: str) -> set[str]:
    """The CJK characters of `text` that carry content (question words dropped)."""
    return {ch for ch in _CJK_CHAR.findall(text.lower()) if ch not in _CJK_FUNCTION}


def term_overlap(terms: set[str], chars: set[str], sentence_terms: set[str], sentence: str,
                 ) -> float:
    """Share of the question's terms in the sentence; for a CJK question, averaged with
    the share of its content characters (bigrams such as 猫吃 in 熊猫吃什么 straddle
    words and never match, so bigrams alone under-count a sentence about 熊猫)."""
    share = len(terms & sentence_terms) / max(1, len(terms))
    if not chars:
        return share
    return max(share, (share + len(chars & content_chars(sentence)) / len(chars)) / 2)


def score_candidates(similarity: np.ndarray, overlap: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Combine per-sentence signals (all arrays of equal length) into one score."""
    return SEMANTIC_WEIGHT * similarity + LEXICAL_WEIGHT * overlap + RANK_WEIGHT / (1.0 + ranks)


def pick_sentences(scores: np.ndarray, *, limit: int, floor: float, relative: float = 0.6,
                   ) -> list[int]:
    """Indices of the best `limit` sentences, best first, scoring at least `floor` and at
    least `relative` times the best score (so weak filler does not pad a good answer)."""
    if len(scores) == 0:
        return []
    cutoff = max(floor, relative * float(scores.max()))
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[:limit] if scores[i] >= cutoff]


class ExtractiveGenerator:
    """Answers with the passages' own sentences; needs only the embedder."""

    name = "extractive"

    def __init__(self, embedder: Embedder, *, max_sentences: int = 3, floor: float = 0.15,
                 reader: Reader | None = None, short_answers: bool = True,
                 min_reading: float = MIN_READING) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {max_sentences!r}")
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.floor = floor
        self.tokenizer = BM25Tokenizer()
        self.reader = (reader or Reader()) if short_answers else None
        self.min_reading = min_reading

    def read(self, question: str, passages: Sequence[Passage], candidates: Sequence[Candidate],
             scores: np.ndarray) -> Reading | None:
        """The reader's short answer, when it is confident (None without spaCy)."""
        if self.reader is None:
            return None
        sentences = [ScoredSentence(c.passage, c.start, c.end, float(s))
                     for c, s in zip(candidates, scores, strict=True)]
        try:
            reading = self.reader.read(question, passages, sentences)
        except MissingDependencyError:
            self.reader = None  # no spaCy model: sentence answers from now on
            return None
        return reading if reading is not None and reading.score >= self.min_reading else None

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        """Build an answer from the best sentences of `passages`, each with its citation."""
        candidates = sentence_candidates(passages)
        if not candidates:
            return Answer(NO_ANSWER, [], True, self.name)
        texts = [passages[c.passage].text[c.start:c.end] for c in candidates]
        titled = [": ".join(part for part in (passages[c.passage].title, c.heading, t) if part)
                  for c, t in zip(candidates, texts, strict=True)]
        vectors = self.embedder.encode([question, *titled])
        similarity = vectors[1:] @ vectors[0]
        terms, chars = set(self.tokenizer(question)), content_chars(question)
        overlap = np.array([term_overlap(terms, chars, set(self.tokenizer(t)), t) for t in titled])
        ranks = np.array([c.passage for c in candidates], dtype=np.float64)
        scores = score_candidates(similarity, overlap, ranks)
        chosen = pick_sentences(scores, limit=self.max_sentences, floor=self.floor)
        if not chosen:
            return Answer(NO_ANSWER, [], True, self.name)
        reading = self.read(question, passages, candidates, scores)
        support = list(reading.support) if reading else []
        chosen = (support + [i for i in chosen if i not in support])[
            :max(self.max_sentences, len(support))]
        citations, parts = [], []
        for n, i in enumerate(chosen, start=1):
            c, p = candidates[i], passages[candidates[i].passage]
            citations.append(Citation(p.chunk_id, p.document_id, p.title, texts[i],
                                      p.start + c.start, p.start + c.end, round(float(scores[i]), 4)))
            parts.append(f"{texts[i].strip()} [{n}]")
        sentences = " ".join(parts)
        if reading is None:
            return Answer(sentences, citations, False, self.name)
        markers = " ".join(f"[{n}]" for n in range(1, len(support) + 1))
        return Answer(f"{reading.text} {markers}".strip(), citations, False, self.name,
                      supporting_text=sentences)
