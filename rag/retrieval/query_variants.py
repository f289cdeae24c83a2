"""Query variants for RAG-Fusion: offline (pseudo-relevance feedback, bridge queries) or LLM.

- RM3-style expansion (Abdul-Jaleel et al., "UMass at TREC 2004", 2004): terms weighted by
  sum over feedback documents of P(t|d) * P(d|q), added to the original query.
- Bridge queries (IRCoT, Trivedi et al., ACL 2023): entities found in the passages of one
  hop, joined with the part of the question those passages do not yet cover, become the
  queries of the next hop.
- LLM variants (RAG-Fusion, Rackauckas 2024): a generator with JSON output writes
  reformulations of the question; `generate_json(prompt, schema)` is the whole seam.

Everything here is a pure function of strings and numbers, except `llm_variants`, which
calls the injected generator.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from indexes.tokenize import BM25Tokenizer, split_words
from rag.errors import RagmemError
from rag.ingest.chunking import split_sentences
from rag.retrieval.context import JSONGenerator

_WORD_RE = re.compile(r"[^\W_][\w'’\-]*")
_CONNECTORS = frozenset("of the de del da di du von van der la le for on in &".split())
_QUOTED_RE = re.compile(r"[\"“]([^\"”]{2,80})[\"”]")

VARIANTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"queries": {"type": "array", "items": {"type": "string"}}},
    "required": ["queries"],
}


class VariantGenerationError(RagmemError):
    """The LLM's reply did not hold a list of query strings."""


@dataclass(frozen=True)
class QueryVariant:
    """One query of a RAG-Fusion run.

    Attributes:
        text: the query text sent to every index.
        kind: "original", "prf", "bridge" or "llm".
        weight: its weight in the fusion (times each index's weight).
        hop: 0 for the first retrieval, 1 or 2 for bridge hops.
    """

    text: str
    kind: str
    weight: float
    hop: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the trace."""
        return {"text": self.text, "kind": self.kind, "weight": self.weight, "hop": self.hop}


def rm3_terms(query_terms: Iterable[str], docs: Sequence[Sequence[str]],
              doc_weights: Sequence[float], *, n_terms: int, min_docs: int = 1,
              ) -> list[tuple[str, float]]:
    """Expansion terms of RM3's relevance model, best first.

    P(t|R) is proportional to sum_d P(t|d) * P(d|q), with P(t|d) = tf / |d| and P(d|q)
    the normalized `doc_weights`. Query terms are left out.

    Args:
        query_terms: the query's own terms (excluded from the result).
        docs: the feedback documents' terms (already tokenized, stemmed).
        doc_weights: one non-negative weight per document (retrieval scores).
        n_terms: how many terms to return.
        min_docs: keep only terms found in at least this many feedback documents.

    Returns:
        (term, weight) pairs; weights sum to at most 1.

    Raises:
        ValueError: on mismatched lengths or negative weights.
    """
    if len(docs) != len(doc_weights):
        raise ValueError(f"{len(docs)} documents for {len(doc_weights)} weights")
    if any(w < 0 for w in doc_weights):
        raise ValueError(f"document weights must be >= 0, got {list(doc_weights)!r}")
    total = float(sum(doc_weights))
    if total == 0 or n_terms < 1:
        return []
    exclude = set(query_terms)
    model: Counter[str] = Counter()
    seen_in: Counter[str] = Counter()
    for terms, weight in zip(docs, doc_weights, strict=True):
        if not terms:
            continue
        counts = Counter(terms)
        for term, tf in counts.items():
            model[term] += (tf / len(terms)) * (weight / total)
        seen_in.update(counts.keys())
    ranked = sorted(((t, w) for t, w in model.items()
                     if t not in exclude and seen_in[t] >= min_docs and not t.isdigit()),
                    key=lambda item: (-item[1], item[0]))
    return ranked[:n_terms]


def surface_terms(text: str, tokenizer: BM25Tokenizer) -> tuple[list[str], dict[str, str]]:
    """`text`'s stemmed terms and, for each stem, its first surface word (for query text)."""
    words = [w for w in split_words(text) if w not in tokenizer.stopwords]
    stems = tokenizer(text)
    surface: dict[str, str] = {}
    for word, stem in zip(words, stems, strict=False):
        surface.setdefault(stem, word)
    return stems, surface


def extract_entities(text: str) -> list[str]:
    """Named-entity-like spans of `text`: quoted titles and runs of capitalized words.

    A run may hold lower-case connectors inside ("Duke of York") but no punctuation; a
    lone capitalized function word ("The", "In") is not an entity. Order of first mention
    is kept and duplicates are dropped.
    """
    found = [m.group(1).strip() for m in _QUOTED_RE.finditer(text)]
    run: list[str] = []
    pending: list[str] = []
    last_end = 0
    for match in _WORD_RE.finditer(text):
        word, gap = match.group(), text[last_end:match.start()]
        last_end = match.end()
        if run and gap.strip():  # punctuation between words ends a name
            found.extend(_entity(run))
            run, pending = [], []
        if word[0].isupper():
            run.extend(pending + [word])
            pending = []
        elif run and word in _CONNECTORS and len(pending) < 2:
            pending.append(word)
        else:
            found.extend(_entity(run))
            run, pending = [], []
    found.extend(_entity(run))
    return list(dict.fromkeys(found))


def _entity(words: list[str]) -> list[str]:
    while words and words[0].lower() in _LEADING_NOISE:
        words = words[1:]
    if not words or (len(words) == 1 and len(words[0]) < 2):
        return []
    return [" ".join(words)]


_LEADING_NOISE = frozenset(
    "the a an in on at of for and but or he she it they his her its their this that these "
    "those there when where what which who whom whose why how is was were are after before "
    "during while as by from with since until also however although both did does do "
    "has have had be been".split())


def _key(text: str) -> frozenset[str]:
    return frozenset(split_words(text))


def bridge_entities(question: str, passages: Sequence[tuple[str, str]], *, limit: int,
                    tokenizer: BM25Tokenizer, exclude: Iterable[str] = ()) -> list[tuple[str, int]]:
    """Entities of first-hop passages that the question does not name, best first.

    An entity scores by how much of the question its sentence shares (so "directed by Y"
    wins for "the director of X") plus a bonus for higher-ranked passages; entities whose
    words all occur in the question, or in `exclude`, are skipped.

    Args:
        question: the user's question.
        passages: (title, text) of the hop's passages, best first.
        limit: how many entities to return.
        tokenizer: the BM25 tokenizer (for stem overlap).
        exclude: entities already used by earlier hops.

    Returns:
        (entity, index of the passage it came from) pairs.
    """
    q_words = _key(question)
    q_stems = set(tokenizer(question))
    skip = {_key(e) for e in exclude}
    scored: dict[str, tuple[float, int]] = {}
    for rank, (title, text) in enumerate(passages):
        candidates = [(title, 0.5)] if title else []
        for start, end in split_sentences(text):
            sentence = text[start:end]
            overlap = len(q_stems & set(tokenizer(sentence))) / max(1, len(q_stems))
            candidates.extend((e, overlap) for e in extract_entities(sentence))
        for entity, overlap in candidates:
            words = _key(entity)
            if not words or words <= q_words or words in skip:
                continue
            score = overlap + 0.3 / (1 + rank) + (0.1 if len(entity.split()) > 1 else 0.0)
            if score > scored.get(entity, (-1.0, 0))[0]:
                scored[entity] = (score, rank)
    ranked = sorted(scored.items(), key=lambda item: (-item[1][0], item[1][1], item[0]))
    return [(entity, rank) for entity, (_, rank) in ranked[:limit]]


def residual_question(question: str, passage_text: str, tokenizer: BM25Tokenizer) -> str:
    """The question's content words that `passage_text` does not contain (still to find)."""
    covered = set(tokenizer(passage_text))
    words = [w for w in re.findall(r"[\w'’\-]+", question)
             if w.lower() not in tokenizer.stopwords and w.lower() not in _LEADING_NOISE]
    kept = [w for w in words if not (set(tokenizer(w)) <= covered)]
    return " ".join(kept)


def bridge_query(entity: str, question: str, passage_text: str, tokenizer: BM25Tokenizer) -> str:
    """An IRCoT-style next-hop query: the bridge entity plus the still-uncovered question."""
    rest = residual_question(question, passage_text, tokenizer)
    return f"{entity} {rest}".strip()


def prf_query(question: str, terms: Sequence[tuple[str, float]], surface: dict[str, str]) -> str:
    """The original question followed by the expansion terms (as surface words)."""
    extra = [surface.get(t, t) for t, _ in terms]
    return " ".join([question, *extra]).strip()


def llm_prompt(question: str, n: int) -> str:
    """The RAG-Fusion prompt asking for `n` search queries (JSON output)."""
    return (
        "You write search queries for a document retrieval system.\n"
        f"Write {n} different search queries that together find every passage needed to "
        "answer the question. For a multi-hop question, include one query per hop. "
        'Reply with JSON: {"queries": ["...", ...]}.\n'
        f"Question: {question}")


def llm_variants(generator: JSONGenerator, question: str, n: int) -> list[str]:
    """Query variants written by an LLM (RAG-Fusion), at most `n`, duplicates removed.

    Raises:
        VariantGenerationError: when the reply has no list of strings under "queries".
    """
    reply = generator.generate_json(llm_prompt(question, n), VARIANTS_SCHEMA)
    queries = reply.get("queries") if isinstance(reply, dict) else None
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise VariantGenerationError(f"expected {{'queries': [str, ...]}}, got {reply!r}")
    cleaned = [q.strip() for q in queries if q.strip() and q.strip() != question.strip()]
    return list(dict.fromkeys(cleaned))[:n]
