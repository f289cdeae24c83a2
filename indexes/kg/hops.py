"""Iterative offline retrieval and comparison questions: pure functions over ids.

IRCoT (Trivedi et al. 2023) interleaves retrieval with an LLM's chain of thought; each
thought names the entity the next retrieval looks for. Offline we take that entity from
the evidence instead: the phrases of the top passages that the question does not name
(bridge entities: "the director of X" -> the person X's passage names) become the next
hop's PPR seeds, with a decayed weight. Bridges that have a passage of their own (a
title phrase) come first, since that passage is the next hop's evidence.

2WikiMultiHopQA's comparison questions ("Which film came out first, X or Y?") name every
entity they need; `comparison_parts` splits them out so each one's best passage is kept
in the evidence window (`reserve_slots`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence


def bridge_entities(
    evidence: Sequence[int],
    phrases_of: Callable[[int], Sequence[int]],
    known: Collection[int],
    *,
    relevance: Callable[[int, int], float],
    titled: Mapping[int, Sequence[int]],
    limit: int,
    titled_only: bool = True,
) -> list[tuple[int, float]]:
    """The next hop's seeds: phrases of the evidence passages the walk has not started from.

    Args:
        evidence: the top passages of the last walk (chunk ids), best first.
        phrases_of: chunk id -> its phrase ids.
        known: phrase ids already seeded (the question's and earlier hops').
        relevance: `(phrase_id, chunk_id) -> score >= 0` of the phrase as met in that
            evidence passage (e.g. its facts' similarity to the question); 0 drops it.
        titled: title phrase id -> the passages it titles.
        limit: the most bridges returned.
        titled_only: keep only phrases that title a passage outside the evidence (a
            bridge whose passage is already in the evidence brings nothing new).

    Returns:
        `(phrase_id, score)` pairs, best first; a phrase met in several evidence passages
        keeps its best score, ties broken by evidence rank.
    """
    if limit <= 0:
        return []
    in_evidence = set(evidence)
    best: dict[int, tuple[float, int]] = {}
    for rank, cid in enumerate(evidence):
        for pid in phrases_of(cid):
            if pid in known:
                continue
            passages = titled.get(pid, ())
            if cid in passages:
                continue  # the passage's own title is no bridge
            if titled_only and not any(p not in in_evidence for p in passages):
                continue
            score = float(relevance(pid, cid))
            if score > 0 and (pid not in best or score > best[pid][0]):
                best[pid] = (score, rank)
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1], item[0]))
    return [(pid, score) for pid, (score, _) in ranked[:limit]]


def frontier(new: Sequence[int], top: Sequence[int], mined: Collection[int],
             n: int) -> list[int]:
    """The next hop's evidence: the first `n` passages of `new` (what the last walk
    brought into the top k, best first) not mined yet, topped up from `top`."""
    out: list[int] = []
    for cid in [*new, *top]:
        if len(out) == n:
            break
        if cid not in mined and cid not in out:
            out.append(cid)
    return out


def evidence_covers(question: Collection[int], evidence_phrases: Collection[int],
                    new: Collection[int]) -> bool:
    """Whether to stop hopping: the evidence holds every phrase the question was linked
    to, and the last hop found no bridge whose passage is missing from it."""
    return not new and all(pid in evidence_phrases for pid in question)


def hop_weight(decay: float, hop: int) -> float:
    """Restart weight of hop `hop`'s seeds relative to the question's (hop 0)."""
    if not 0 < decay <= 1:
        raise ValueError(f"hop decay must be in (0, 1], got {decay!r}")
    return decay ** hop


def comparison_parts(question: str, is_entity: Callable[[str], bool] | None = None) -> list[str]:
    """The two entities a comparison question ends with (", X or Y?"), else [].

    Names may hold commas ("Sleep, My Love") and "or": every split is tried, and the first
    whose two sides both pass `is_entity` wins; without one, the split at the last comma
    and the first " or " after it.

    >>> comparison_parts("Which film came out first, Blue Harbor or Red Sky?")
    ['Blue Harbor', 'Red Sky']
    """
    text = question.strip()
    if not text.endswith("?") or " or " not in text or "," not in text:
        return []
    body = text.rstrip("?").strip()
    splits = []  # (comma, parts): every comma, every " or " after it
    for comma in [m.start() for m in re.finditer(",", body)]:
        tail = re.sub(r"^\s*or\s+", " ", body[comma + 1:])  # ", or" ends the list before
        for found in re.finditer(r"\s+or\s+", tail):
            a, b = tail[:found.start()].strip(), tail[found.end():].strip()
            if a and b:
                splits.append((comma, [a, b]))
    if not splits:
        return []
    if is_entity is not None:
        for _, parts in splits:
            if all(is_entity(p) for p in parts):
                return parts
    last = max(comma for comma, _ in splits)
    return next(parts for comma, parts in splits if comma == last)


def reserve_slots(ranked: Sequence[int], required: Sequence[int], window: int) -> list[int]:
    """`ranked` with each required id moved into the first `window` places.

    A required id already inside stays; a missing one takes the place of the lowest
    unrequired id in the window, which moves down just below it. Order otherwise holds.
    """
    need = list(dict.fromkeys(r for r in required if r in ranked))[:max(window, 0)]
    head = list(ranked[:window])
    rest = [r for r in ranked[window:] if r not in need]
    for rid in need:
        if rid in head:
            continue
        free = [i for i, r in enumerate(head) if r not in need]
        if not free:
            break
        bumped = head.pop(free[-1])
        head.append(rid)
        rest.insert(0, bumped)
    return head + rest
