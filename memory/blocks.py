"""Segmentation of long text into InfLLM memory blocks and choice of representative spans.

InfLLM (Xiao et al., 2024, "InfLLM: Training-Free Long-Context Extrapolation for LLMs with
an Efficient Context Memory", arXiv:2402.04617) splits past tokens into blocks of B tokens
and represents each block by its r most-attended tokens. Here a block is a run of whole
sentences or lines of at most B tokens, and its representatives are its most salient
sentences (rarest terms) plus, computed later, their mean.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memory.tokens import TokenCounter, lexical_terms

# A unit ends after sentence punctuation followed by whitespace, or after a newline run.
_BOUNDARY_RE = re.compile(r"[.!?;]+[\"')\]]*\s+|\n\s*")


@dataclass(frozen=True)
class Block:
    """A block of a source text: characters `[start, end)` holding `n_tokens` tokens."""

    start: int
    end: int
    n_tokens: int


def split_units(text: str) -> list[tuple[int, int]]:
    """Split `text` into sentence or line spans that cover it without gaps.

    Args:
        text: The source text.

    Returns:
        Contiguous `(start, end)` character spans; trailing whitespace stays with the span.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        if match.end() > start:
            spans.append((start, match.end()))
            start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _split_oversize(text: str, span: tuple[int, int], counter: TokenCounter, block_tokens: int) -> list[Block]:
    """Cut one unit longer than `block_tokens` at token boundaries."""
    start, end = span
    offsets = counter.offsets(text[start:end])
    blocks: list[Block] = []
    piece_start = start
    for i in range(block_tokens, len(offsets), block_tokens):
        cut = start + offsets[i][0]
        blocks.append(Block(piece_start, cut, block_tokens))
        piece_start = cut
    blocks.append(Block(piece_start, end, len(offsets) - block_tokens * len(blocks)))
    return blocks


def segment(text: str, counter: TokenCounter, *, block_tokens: int = 128) -> list[Block]:
    """Split `text` into blocks of at most `block_tokens` tokens at sentence or line ends.

    Units are packed greedily; a unit longer than a block is cut at token boundaries.
    Blocks cover the text contiguously, so `text[b.start:b.end]` round-trips.

    Args:
        text: The source text.
        counter: Counts tokens (batched) and gives token offsets for long units.
        block_tokens: B, the most tokens in a block.

    Returns:
        The blocks in text order (none for an empty text).

    Raises:
        ValueError: when `block_tokens` is not positive.
    """
    if block_tokens < 1:
        raise ValueError(f"block_tokens must be >= 1, got {block_tokens!r}")
    units = split_units(text)
    counts = counter.count([text[s:e] for s, e in units])
    blocks: list[Block] = []
    cur_start, cur_end, cur_tokens = 0, 0, 0
    for (start, end), n in zip(units, counts, strict=True):
        if cur_tokens and cur_tokens + n > block_tokens:
            blocks.append(Block(cur_start, cur_end, cur_tokens))
            cur_tokens = 0
        if n > block_tokens:
            blocks.extend(_split_oversize(text, (start, end), counter, block_tokens))
            continue
        if cur_tokens == 0:
            cur_start = start
        cur_end, cur_tokens = end, cur_tokens + n
    if cur_tokens or (units and not blocks and cur_end > cur_start):
        blocks.append(Block(cur_start, cur_end, cur_tokens))
    return _absorb_gaps(blocks, len(text))


def _absorb_gaps(blocks: list[Block], length: int) -> list[Block]:
    """Stretch blocks so they tile `[0, length)` (zero-token whitespace joins a neighbour)."""
    if not blocks:
        return blocks
    tiled = []
    for i, block in enumerate(blocks):
        start = 0 if i == 0 else tiled[-1].end
        end = length if i == len(blocks) - 1 else blocks[i + 1].start
        tiled.append(Block(start, max(end, block.end), block.n_tokens))
    return tiled


def salient_spans(
    text: str,
    block: Block,
    idf: Callable[[Sequence[str]], Sequence[float]],
    *,
    n_spans: int = 3,
    max_chars: int = 200,
) -> list[tuple[int, int]]:
    """Pick a block's most salient sentences as its representative spans.

    Salience is the mean IDF of a sentence's terms plus a bonus for its rarest term, the
    lexical analogue of InfLLM's most-attended tokens: rare content (a needle, a key)
    stands out from filler. Spans longer than `max_chars` are clipped around their rarest
    term so each can be embedded cheaply.

    Args:
        text: The source text.
        block: The block within `text`.
        idf: Maps terms to inverse document frequencies.
        n_spans: How many spans to return (fewer when the block has fewer sentences).
        max_chars: Longest span, in characters.

    Returns:
        `(start, end)` spans into `text`, in text order.
    """
    scored: list[tuple[float, int, int, int]] = []
    for s, e in split_units(text[block.start : block.end]):
        start, end = block.start + s, block.start + e
        chunk = text[start:end].strip()
        terms = lexical_terms(chunk)
        if not terms:
            continue
        weights = list(idf(terms))
        best = max(range(len(terms)), key=weights.__getitem__)
        score = sum(weights) / len(weights) + weights[best]
        start += len(text[start:end]) - len(text[start:end].lstrip())
        centre = start + max(0, chunk.lower().find(terms[best]))
        scored.append((score, start, start + len(chunk), centre))
    scored.sort(key=lambda item: -item[0])
    spans = [_clip(s, e, c, max_chars) for _, s, e, c in scored[:n_spans]]
    return sorted(spans)


def _clip(start: int, end: int, centre: int, max_chars: int) -> tuple[int, int]:
    """Clip `[start, end)` to at most `max_chars` characters around `centre`."""
    if end - start <= max_chars:
        return start, end
    lo = min(max(start, centre - max_chars // 2), end - max_chars)
    return lo, lo + max_chars
