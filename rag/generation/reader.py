"""Offline short answers: the span of the retrieved passages that answers the question.

No LLM. `question_types.analyze` says what the question wants; then

* an entity question ("Where was the director of film X born?") takes the spaCy NER
  spans (dates: `find_dates`) of the wanted type from the passages' sentences and scores
  each by the extractive score of its sentence, its closeness to the question's terms
  there, its passage's rank and how many passages name it; spans the question already
  names are left out;
* a choice ("Which film came out first, A or B?") finds each option's passage, follows
  the relation the question names ("the director who died later": the film's passage ->
  the passage of the person it names near "directed") and compares the dates there;
* a yes/no question on the same country/nationality compares the two entities'
  nationalities; "Are X and Y both <noun>?" checks the noun in both passages.

The result carries the sentences that support it, so the answer keeps its citations.
`Reader.read` returns None when nothing fits (the caller keeps its sentence answer).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from indexes.kg.openie import normalize_entity, normalize_phrase
from rag.generation.answers import Passage
from rag.generation.question_types import (
    RELATION_CUES,
    STOPWORDS,
    QuestionType,
    analyze,
    content_words,
    expand_terms,
    find_dates,
    life_dates,
    nationality_key,
    relation_chain,
    relation_of,
)

SENTENCE_WEIGHT = 1.0
PROXIMITY_WEIGHT = 0.4
RANK_WEIGHT = 0.3
FREQUENCY_WEIGHT = 0.15
EVENT_WEIGHT = 0.3
HOP_WEIGHT = 1.0  # the passage the relation chain leads to holds the answer
CUE_WEIGHT = 0.6
SECONDARY_PENALTY = 0.5
# Relations to a person, whose dates are a life's ("the director who died later").
PERSON_RELATIONS = frozenset({"director", "composer", "performer", "producer", "author",
                              "writer", "father", "mother", "husband", "wife", "creator",
                              "founder", "spouse"})



@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence (char offsets within its passage's text) and its score."""

    passage: int
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Reading:
    """A short answer, how it was found (`kind`), its score, and the indices (into the
    sentences given to `read`) of the sentences that support it."""

    text: str
    kind: str
    score: float
    support: tuple[int, ...]


def named_in(span: str, question_norm: str) -> bool:
    """Whether the question already names the span (then it is not the answer)."""
    norm = normalize_entity(span)
    return not norm or f" {norm} " in f" {question_norm} "


def proximity(span_start: int, span_end: int, sentence: str, offset: int, terms: set[str],
              ) -> float:
    """How near the span sits to the question's terms in its sentence: half
    1 / (1 + d / 3) for the distance d in words to the nearest term, half whether the
    content word just before the span is one ("in Chemistry in 1911" for a question on
    Chemistry, not "in Physics in 1903"); 0 when the sentence has no term."""
    best, left = math.inf, ""
    for match in re.finditer(r"[A-Za-z0-9]+", sentence):
        pos, word = offset + match.start(), match.group(0).lower()
        if pos + len(word) <= span_start and word not in STOPWORDS and len(word) > 1:
            left = word
        if word in terms:
            gap = span_start - pos if pos < span_start else pos - span_end
            words = len(sentence[min(pos, span_end) - offset:max(pos, span_start) - offset].split())
            best = min(best, max(0, words - 1) if gap > 0 else 0)
    if best == math.inf:
        return 0.0
    return 0.5 / (1.0 + best / 3.0) + 0.5 * (left in terms)


def aggregate(found: Sequence[tuple[str, float, int, int]]) -> list[tuple[str, float, int]]:
    """(span, score, passage, sentence) rows -> one row per normalised span, best score
    plus a bonus per further passage that names it; best first."""
    by_norm: dict[str, list[tuple[str, float, int, int]]] = {}
    for row in found:
        by_norm.setdefault(normalize_entity(row[0]), []).append(row)
    out = []
    for rows in by_norm.values():
        best = max(rows, key=lambda r: r[1])
        passages = {r[2] for r in rows}
        out.append((best[0], best[1] + FREQUENCY_WEIGHT * math.log(len(passages)), best[3]))
    return sorted(out, key=lambda r: -r[1])


def title_match(option: str, title: str) -> float:
    """How well an option names a passage title (token Jaccard of normalised words)."""
    a, b = set(normalize_phrase(option).split()), set(normalize_phrase(title).split())
    return len(a & b) / len(a | b) if a and b else 0.0


def option_passage(option: str, passages: Sequence[Passage]) -> int | None:
    """The best-ranked passage titled like the option (Jaccard >= 0.5), or None."""
    scored = [(title_match(option, p.title), -n, n) for n, p in enumerate(passages)]
    best = max(scored, default=(0.0, 0, None))
    return best[2] if best[0] >= 0.5 else None


def cue_bonus(span_start: int, text: str, relation: str) -> float:
    """1 / (1 + n) when a cue of `relation` ("son of", "directed by") ends n words before
    the span (within 5), else 0: the entity a passage names for that relation, the
    nearest first ("son of Charles Howard and Anne Smith": Charles Howard)."""
    before = " ".join(text[max(0, span_start - 80):span_start].lower().split()[-6:])
    ends = [before.rfind(cue) + len(cue) for cue in RELATION_CUES.get(relation, ())
            if cue in before]
    return 1.0 / (1.0 + len(before[max(ends):].split())) if ends else 0.0


def bridge_passage(source: int, relation: str, passages: Sequence[Passage]) -> int | None:
    """The passage of the entity that passage `source` names for `relation`: another
    passage whose title the source's text names, the one named nearest a relation cue."""
    text = passages[source].text.lower()
    cues = [m.start() for cue in RELATION_CUES.get(relation, ()) for m in re.finditer(cue, text)]
    best: tuple[float, int] | None = None
    for n, p in enumerate(passages):
        title = re.sub(r"\s*\([^)]*\)$", "", p.title).lower()
        if n == source or not title or normalize_phrase(title) == normalize_phrase(passages[source].title):
            continue
        at = text.find(title)
        if at < 0:
            continue
        distance = min((abs(at - c) for c in cues), default=len(text)) + n  # rank breaks ties
        if best is None or distance < best[0]:
            best = (distance, n)
    return None if best is None else best[1]


def first_sentence(passages: Sequence[Passage], sentences: Sequence[ScoredSentence], n: int,
                   ) -> int | None:
    """Index of passage `n`'s first candidate sentence (its support), if any."""
    return next((i for i, s in enumerate(sentences) if s.passage == n), None)


class Reader:
    """Picks a short answer span; spaCy loads once, on first use."""

    def __init__(self, load: Callable[[], Any] | None = None) -> None:
        self._load, self._nlp = load, None

    def nlp(self) -> Any:
        """The spaCy pipeline (loaded on first call)."""
        if self._nlp is None:
            if self._load is None:
                from indexes.kg.openie import load_spacy

                self._load = load_spacy
            self._nlp = self._load()
        return self._nlp

    def read(self, question: str, passages: Sequence[Passage],
             sentences: Sequence[ScoredSentence]) -> Reading | None:
        """The short answer to `question` from `passages`, or None when nothing fits."""
        if not passages or not sentences:
            return None
        qtype = analyze(question)
        if qtype.kind == "open":
            return None
        if qtype.kind == "choice":
            return self._choice(question, qtype, passages, sentences)
        if qtype.kind == "yesno":
            return self._yes_no(question, qtype, passages, sentences)
        return self._entity(question, qtype, passages, sentences)

    # -- entity questions --------------------------------------------------------------
    def _spans(self, qtype: QuestionType, doc: Any, text: str, s: ScoredSentence,
               ) -> list[tuple[int, int, float]]:
        """(start, end, bonus) of the sentence's spans of the wanted type: a date that is
        the birth or death date asked for gets EVENT_WEIGHT; a place is its NER span
        ("Dallas" of "Dallas, Texas"); an organisation answering "where" (not "where
        did X study") loses SECONDARY_PENALTY."""
        if qtype.types == ("DATE",):
            sentence = text[s.start:s.end]
            birth, death = life_dates(sentence) if qtype.event else (None, None)
            pick = death if qtype.event == "death" else birth
            return [(s.start + d.start, s.start + d.end, EVENT_WEIGHT if d == pick else 0.0)
                    for d in find_dates(sentence)]
        ents = [e for e in doc.ents if s.start <= e.start_char and e.end_char <= s.end
                and (e.label_ in qtype.types if qtype.types else
                     e.label_ not in ("DATE", "CARDINAL", "ORDINAL", "PERCENT", "TIME"))]
        spans: list[tuple[int, int, float]] = []
        for e in ents:
            penalty = SECONDARY_PENALTY if e.label_ == "ORG" and qtype.head == "place" else 0.0
            spans.append((e.start_char, e.end_char, -penalty))
        return spans

    def _hops(self, question: str, passages: Sequence[Passage]) -> tuple[list[int], list[str]]:
        """The passages from the one the question names along its relation chain
        ("the father of the director of film X": X's, its director's, his father's), as
        far as the given passages go, and the chain."""
        chain = relation_chain(question)
        named = self._named_passages(question, passages)
        path = named[:1]
        for relation in chain if path else []:
            nxt = bridge_passage(path[-1], relation, passages)
            if nxt is None or nxt in path:
                break
            path.append(nxt)
        return path, chain

    def _entity(self, question: str, qtype: QuestionType, passages: Sequence[Passage],
                sentences: Sequence[ScoredSentence]) -> Reading | None:
        docs = list(self.nlp().pipe([p.text for p in passages]))
        question_norm = normalize_entity(question)
        terms = expand_terms(content_words(question))
        if re.search(r"\b(?:stud|graduat|educat|attend|work)", question, re.I):
            qtype = QuestionType(qtype.kind, ("ORG", "FAC", "GPE"), "school", event=qtype.event)
        top = max(s.score for s in sentences) or 1.0
        path, chain = self._hops(question, passages)
        # "Who is the father of ..." wants the entity of the last relation, named in the
        # passage before it; "Where was the director of ... born" an attribute of the
        # last entity, stated in its own passage.
        wants_relation = qtype.types == ("PERSON",) and bool(chain) and chain[-1] in PERSON_RELATIONS
        if wants_relation:
            holder = path[len(chain) - 1] if len(path) >= len(chain) else None
        else:
            holder = path[len(chain)] if chain and len(path) > len(chain) else None
        # The relation's entity has a passage of its own: its title names the answer.
        reached = (normalize_entity(re.sub(r"\s*\([^)]*\)$", "", passages[path[len(chain)]].title))
                   if wants_relation and len(path) > len(chain) else None)
        # "What is the vault combination ...?" names no type: only a sentence that names
        # the head noun ("combination") can hold its span.
        head = re.compile(rf"\b{re.escape(qtype.head)}s?\b", re.I) if qtype.head else None
        found = []
        for i, s in enumerate(sentences):
            text = passages[s.passage].text
            if not qtype.types and (head is None or not head.search(text, s.start, s.end)):
                continue
            for start, end, bonus in self._spans(qtype, docs[s.passage], text, s):
                span = text[start:end].strip(" ,.;:")
                if not span or named_in(span, question_norm):
                    continue
                here = s.passage == holder
                score = (SENTENCE_WEIGHT * s.score / top + bonus
                         + PROXIMITY_WEIGHT * proximity(start, end, text[s.start:s.end], s.start, terms)
                         + RANK_WEIGHT / (1.0 + s.passage) + HOP_WEIGHT * here
                         + CUE_WEIGHT * (here and wants_relation and cue_bonus(start, text, chain[-1]))
                         + CUE_WEIGHT * (normalize_entity(span) == reached))
                found.append((span, score, s.passage, i))
        ranked = aggregate(found)
        if not ranked:
            return None
        span, score, sentence = ranked[0]
        return Reading(span, "entity", round(score, 4), (sentence,))

    # -- choices and yes/no ------------------------------------------------------------
    def _target(self, question: str, name: str, passages: Sequence[Passage]) -> int | None:
        """The passage an option's attribute is read from: the option's own, or the one
        its relation leads to ("the director of" the film)."""
        source = option_passage(name, passages)
        relation = relation_of(question)
        if source is None or not relation:
            return source
        bridge = bridge_passage(source, relation, passages)
        return source if bridge is None else bridge

    def _choice(self, question: str, qtype: QuestionType, passages: Sequence[Passage],
                sentences: Sequence[ScoredSentence]) -> Reading | None:
        targets = [self._target(question, o, passages) for o in qtype.options]
        keys = []
        for target in targets:
            if target is None:
                keys.append(None)
                continue
            text = passages[target].text
            if qtype.order == "longer":  # who lived longer: the life span, in years
                birth, death = life_dates(text)
                keys.append((death.key[0] - birth.key[0], 0, 0) if birth and death else None)
                continue
            if qtype.event or relation_of(question) in PERSON_RELATIONS:
                birth, death = life_dates(text)
                date = death if qtype.event == "death" else birth
            else:
                dates = find_dates(text)
                date = dates[0] if dates else None
            keys.append(date.key if date else None)
        support = tuple(i for t in targets if t is not None
                        for i in [first_sentence(passages, sentences, t)] if i is not None)
        if None not in keys and keys[0] != keys[1] and qtype.order:
            late = qtype.order in ("late", "longer")
            pick = int(keys[1] > keys[0]) if late else int(keys[1] < keys[0])
            return Reading(qtype.options[pick], "choice", 1.0, support)
        # No comparable dates: the option whose passage the evidence ranks higher.
        ranks = [t if t is not None else len(passages) for t in targets]
        pick = int(ranks[1] < ranks[0])
        return Reading(qtype.options[pick], "choice", 0.5, support)

    def _named_passages(self, question: str, passages: Sequence[Passage]) -> list[int]:
        """Passages whose (qualifier-free) title the question names, in rank order."""
        q = f" {normalize_phrase(question)} "
        out = []
        for n, p in enumerate(passages):
            title = normalize_phrase(re.sub(r"\s*\([^)]*\)$", "", p.title))
            if title and f" {title} " in q and title not in {normalize_phrase(passages[m].title)
                                                           for m in out}:
                out.append(n)
        return out

    def _yes_no(self, question: str, qtype: QuestionType, passages: Sequence[Passage],
                sentences: Sequence[ScoredSentence]) -> Reading | None:
        named = self._named_passages(question, passages)[:2]
        if len(named) < 2:
            return None
        relation = relation_of(question)
        targets = [bridge_passage(n, relation, passages) or n if relation else n for n in named]
        support = tuple(i for t in targets for i in [first_sentence(passages, sentences, t)]
                        if i is not None)
        if re.search(r"\bsame (?:country|nationality)\b|\bnationality\b", question, re.I):
            origins = [self._origin(passages[t]) for t in targets]
            if None in origins:
                return Reading("yes", "yesno", 0.3, support)
            return Reading("yes" if origins[0] == origins[1] else "no", "yesno", 0.8, support)
        both = re.search(r"\bboth\s+(.+?)\s*\?*$", question, re.I)
        if both:
            words = content_words(both.group(1))
            first = [normalize_phrase(passages[t].text[:300]) for t in targets]
            has = [all(w in text or w.rstrip("s") in text for w in words) for text in first]
            return Reading("yes" if all(has) else "no", "yesno", 0.6, support)
        return None

    def _origin(self, passage: Passage) -> str | None:
        """A passage's nationality: its first NORP/GPE in the opening sentences."""
        doc = self.nlp()(passage.text[:400])
        for ent in doc.ents:
            if ent.label_ in ("NORP", "GPE"):
                return nationality_key(ent.text)
        return None
