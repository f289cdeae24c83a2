"""Query-to-graph linking: pure functions that turn a question into PPR seed weights.

Two ways to seed the walk, both from the HippoRAG papers:

* entities (HippoRAG, Gutiérrez et al. 2024): the question's named entities are linked to
  their nearest phrase nodes and weighted by node specificity; we add exact matching of
  the question's word n-grams against titles and multi-word phrases, which catches names
  an offline NER misses (film and book titles);
* facts (HippoRAG 2, Gutiérrez et al. 2025, "From RAG to Memory"): the question embedding
  retrieves the most similar triples, whose subject and object become seeds weighted by
  the fact score and divided by the number of passages holding the phrase.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np


def ngram_matches(
    tokens: Sequence[str],
    lookup: Mapping[str, int],
    *,
    accept: Callable[[int, int], bool],
    max_len: int = 10,
) -> list[tuple[str, int]]:
    """Word n-grams of the question that are phrase nodes, longest first, no overlap.

    Args:
        tokens: the normalized question's words.
        lookup: phrase text -> phrase id.
        accept: `accept(phrase_id, n_words)` says whether a match of that length counts
            (e.g. multi-word phrases and titles only).
        max_len: the longest n-gram tried.

    Returns:
        `(phrase, phrase_id)` pairs in the order found.
    """
    taken = [False] * len(tokens)
    found: list[tuple[str, int]] = []
    for size in range(min(max_len, len(tokens)), 0, -1):
        for start in range(len(tokens) - size + 1):
            if any(taken[start:start + size]):
                continue
            phrase = " ".join(tokens[start:start + size])
            pid = lookup.get(phrase)
            if pid is not None and accept(pid, size):
                found.append((phrase, pid))
                taken[start:start + size] = [True] * size
    return found


def nearest_rows(queries: np.ndarray, table: np.ndarray, alive: np.ndarray,
                 k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` live rows of `table` by inner product for each query vector.

    Returns:
        `(ids, sims)`, each of shape (len(queries), k'), k' = min(k, live rows).
    """
    sims = queries @ table.T
    sims[:, ~alive] = -np.inf
    k = min(k, int(alive.sum()))
    if k == 0 or len(queries) == 0:
        return np.zeros((len(queries), 0), dtype=np.int64), np.zeros((len(queries), 0))
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
    ids = np.take_along_axis(part, order, axis=1)
    return ids, np.take_along_axis(sims, ids, axis=1)


def entity_seeds(
    linked: Sequence[tuple[int, float]],
    specificity: Callable[[int], float],
) -> dict[int, float]:
    """HippoRAG v1 seeds: each linked phrase weighted by similarity × specificity.

    Args:
        linked: `(phrase_id, similarity)` pairs (similarity 1.0 for exact matches).
        specificity: phrase id -> 1 / |passages holding it|.

    Returns:
        phrase id -> weight (the largest when a phrase is linked twice).
    """
    seeds: dict[int, float] = {}
    for pid, sim in linked:
        weight = max(float(sim), 0.0) * specificity(pid)
        seeds[pid] = max(seeds.get(pid, 0.0), weight)
    return seeds


def fact_seeds(
    facts: Sequence[tuple[int, float]],
    fact_ends: Callable[[int], tuple[int, int]],
    specificity: Callable[[int], float],
) -> dict[int, float]:
    """HippoRAG 2 seeds: subject and object of each top fact, fact score × specificity.

    Fact scores are min–max normalized over the given facts (as HippoRAG 2 does over all
    facts); a phrase met in several facts gets the mean of its weights.

    Args:
        facts: `(fact_id, score)` pairs, best first.
        fact_ends: fact id -> (subject phrase id, object phrase id).
        specificity: phrase id -> 1 / |passages holding it|.

    Returns:
        phrase id -> weight.
    """
    if not facts:
        return {}
    scores = np.array([s for _, s in facts], dtype=np.float64)
    span = scores.max() - scores.min()
    norm = (scores - scores.min()) / span if span > 0 else np.ones_like(scores)
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for (fid, _), score in zip(facts, norm, strict=True):
        for pid in set(fact_ends(fid)):
            sums[pid] = sums.get(pid, 0.0) + float(score) * specificity(pid)
            counts[pid] = counts.get(pid, 0) + 1
    return {pid: sums[pid] / counts[pid] for pid in sums}


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant vector becomes all ones."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.ones_like(values)


_DISAMBIGUATOR = re.compile(r"^(?P<base>.+?)\s*\((?P<note>[^()]+)\)\s*$")


def title_aliases(title: str) -> list[str]:
    """Other names a passage title goes by: Wikipedia's "Name (disambiguator)" is also
    just "Name", which is how questions say it ("Hello Love (song)" -> "Hello Love").

    >>> title_aliases("Hello Love (song)")
    ['Hello Love']
    """
    found = _DISAMBIGUATOR.match(title.strip())
    return [found.group("base")] if found else []
