"""Pure context assembly: order, budget, de-duplication, scaling (no model)."""

from __future__ import annotations

import pytest

from memory.assembly import AssembledContext, AssemblyConfig, BlockSpan, Piece, assemble

pytestmark = pytest.mark.unit


def spans(n: int, size: int = 10) -> list[BlockSpan]:
    return [BlockSpan(i, "doc", i * 50, (i + 1) * 50, size) for i in range(n)]


CONFIG = AssemblyConfig(n_init=20, n_local=30, top_k=3, block_tokens=10)


def test_sinks_blocks_local_in_original_order():
    blocks = spans(100)
    ctx = assemble(blocks, [(70, 0.9), (10, 0.8), (40, 0.7), (50, 0.1)], CONFIG, budget=1000)
    assert [p.block_id for p in ctx.pieces] == [0, 1, 10, 40, 70, 97, 98, 99]
    assert [p.kind for p in ctx.pieces] == ["sink"] * 2 + ["block"] * 3 + ["local"] * 3
    assert ctx.n_tokens == 80
    assert ctx.pieces[2].score == 0.8 and ctx.pieces[0].score is None
    assert (ctx.pieces[2].start, ctx.pieces[2].end) == (500, 550)


def test_ranked_blocks_already_in_sinks_or_window_are_skipped():
    blocks = spans(20)
    ctx = assemble(blocks, [(0, 1.0), (19, 0.9), (5, 0.5), (5, 0.4), (6, 0.3)], CONFIG, budget=1000)
    ids = [p.block_id for p in ctx.pieces]
    assert ids == sorted(set(ids))
    assert [p.block_id for p in ctx.pieces if p.kind == "block"] == [5, 6]


def test_budget_is_never_exceeded():
    blocks = spans(100)
    ranked = [(i, 1.0 / (i + 1)) for i in range(100)]
    for budget in (0, 5, 10, 25, 45, 55, 65):
        ctx = assemble(blocks, ranked, CONFIG, budget=budget)
        assert ctx.n_tokens <= budget
        assert ctx.n_tokens == sum(p.n_tokens for p in ctx.pieces)
    ctx = assemble(blocks, ranked, CONFIG, budget=55)
    assert [p.kind for p in ctx.pieces].count("block") == 0  # sinks 20 + local 30 leave 5


def test_short_memory_is_all_sinks_and_window():
    ctx = assemble(spans(4), [(1, 1.0)], CONFIG, budget=1000)
    assert [p.kind for p in ctx.pieces] == ["sink", "sink", "local", "local"]


def test_scaled_config_fits_budget():
    full = AssemblyConfig()
    assert full.budget == 128 + 4096 + 16 * 128
    assert full.scaled(10_000) is full
    small = full.scaled(2048)
    assert small.n_init + small.n_local + small.top_k * small.block_tokens <= 2048
    assert small.top_k >= 1 and small.n_init == 128
    with pytest.raises(ValueError):
        full.scaled(0)
    with pytest.raises(ValueError):
        AssemblyConfig(top_k=-1)


def test_text_joins_contiguous_pieces():
    pieces = (
        Piece("sink", 0, "d", 0, 5, 1, text="Hello"),
        Piece("block", 1, "d", 5, 11, 1, text=" world"),
        Piece("local", 9, "d", 90, 93, 1, text="end"),
    )
    assert AssembledContext(pieces, 3, 10).text(separator=" ... ") == "Hello world ... end"
