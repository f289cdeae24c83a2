"""Pure context assembly: attention sinks + top-k relevant blocks + the local window.

Follows InfLLM (arXiv:2402.04617): the model attends to the first `n_init` tokens, the
last `n_local` tokens, and the `top_k` past blocks most relevant to the current query,
kept in their original order. Here the pieces are whole blocks, so every piece carries
the character offsets of the text it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

KINDS = ("sink", "block", "local")


@dataclass(frozen=True)
class AssemblyConfig:
    """InfLLM's context shape, in tokens. Defaults are InfLLM's (n_init 128, n_local 4096,
    top-k 16 blocks of 128 tokens, 4 representatives per block)."""

    n_init: int = 128
    n_local: int = 4096
    top_k: int = 16
    block_tokens: int = 128
    reps: int = 4

    def __post_init__(self) -> None:
        for name in ("n_init", "n_local", "top_k"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.block_tokens < 1 or self.reps < 1:
            raise ValueError(f"block_tokens and reps must be >= 1, got {self!r}")

    @property
    def budget(self) -> int:
        """Tokens the full shape needs."""
        return self.n_init + self.n_local + self.top_k * self.block_tokens

    def scaled(self, budget: int) -> AssemblyConfig:
        """This shape fitted to a smaller token `budget` (unchanged when it already fits).

        Sinks stay at most 1/16 of the budget, retrieved blocks get about a third (at least
        one block), and the local window gets the rest.

        Raises:
            ValueError: when `budget` is not positive.
        """
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget!r}")
        if budget >= self.budget:
            return self
        n_init = min(self.n_init, budget // 16)
        top_k = max(1, min(self.top_k, (budget // 3) // self.block_tokens))
        n_local = max(0, min(self.n_local, budget - n_init - top_k * self.block_tokens))
        return replace(self, n_init=n_init, n_local=n_local, top_k=top_k)


@dataclass(frozen=True)
class BlockSpan:
    """What assembly needs to know of a block: where it lies and how many tokens it holds."""

    block_id: int
    source: str
    start: int
    end: int
    n_tokens: int


@dataclass(frozen=True)
class Piece:
    """One piece of an assembled context, with its provenance."""

    kind: str
    block_id: int
    source: str
    start: int
    end: int
    n_tokens: int
    score: float | None = None
    text: str = field(default="", compare=False)


@dataclass(frozen=True)
class AssembledContext:
    """The pieces of a context in original order, and the tokens they use."""

    pieces: tuple[Piece, ...]
    n_tokens: int
    budget: int

    def text(self, separator: str = "\n") -> str:
        """The pieces' texts joined; contiguous pieces are joined without a separator."""
        parts: list[str] = []
        prev: Piece | None = None
        for piece in self.pieces:
            if prev is not None:
                contiguous = prev.source == piece.source and prev.end == piece.start
                parts.append("" if contiguous else separator)
            parts.append(piece.text)
            prev = piece
        return "".join(parts)

    def block_ids(self) -> list[int]:
        """Ids of every block in the context, in order."""
        return [p.block_id for p in self.pieces]


def _edge(blocks: Sequence[BlockSpan], limit: int, *, from_end: bool) -> list[int]:
    """Positions of the longest run of blocks at one end holding at most `limit` tokens."""
    order = range(len(blocks) - 1, -1, -1) if from_end else range(len(blocks))
    taken: list[int] = []
    used = 0
    for i in order:
        if used + blocks[i].n_tokens > limit:
            break
        used += blocks[i].n_tokens
        taken.append(i)
    return sorted(taken)


def edge_positions(
    blocks: Sequence[BlockSpan], config: AssemblyConfig, *, budget: int
) -> tuple[list[int], list[int]]:
    """Positions of the sink blocks and of the local-window blocks (disjoint, in order).

    Raises:
        ValueError: when `budget` is negative.
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget!r}")
    sinks = _edge(blocks, min(config.n_init, budget), from_end=False)
    used = sum(blocks[i].n_tokens for i in sinks)
    local_limit = min(config.n_local, budget - used)
    taken = set(sinks)
    local = [i for i in _edge(blocks, local_limit, from_end=True) if i not in taken]
    return sinks, local


def assemble(
    blocks: Sequence[BlockSpan],
    ranked: Sequence[tuple[int, float]],
    config: AssemblyConfig,
    *,
    budget: int,
) -> AssembledContext:
    """Build the context: sinks, then the best ranked blocks, then the local window.

    Args:
        blocks: Every block of the memory, in original order.
        ranked: `(position in blocks, score)` pairs, best first; positions already in the
            sinks or the local window are skipped.
        config: The context shape (use `config.scaled(budget)` for a small budget).
        budget: Most tokens the context may hold.

    Returns:
        The pieces in original order (sinks, selected blocks, local window) within budget.

    Raises:
        ValueError: when `budget` is negative.
    """
    sinks, local = edge_positions(blocks, config, budget=budget)
    taken = set(sinks) | set(local)
    used = sum(blocks[i].n_tokens for i in taken)
    chosen: dict[int, float] = {}
    for pos, score in ranked:
        if len(chosen) >= config.top_k:
            break
        if pos in taken or pos in chosen or used + blocks[pos].n_tokens > budget:
            continue
        chosen[pos] = score
        used += blocks[pos].n_tokens
    kinds = {i: "sink" for i in sinks} | {i: "local" for i in local}
    kinds |= {i: "block" for i in chosen}
    pieces = tuple(_piece(blocks[i], kinds[i], chosen.get(i)) for i in sorted(kinds))
    return AssembledContext(pieces=pieces, n_tokens=used, budget=budget)


def _piece(block: BlockSpan, kind: str, score: float | None) -> Piece:
    return Piece(
        kind=kind,
        block_id=block.block_id,
        source=block.source,
        start=block.start,
        end=block.end,
        n_tokens=block.n_tokens,
        score=score,
    )
