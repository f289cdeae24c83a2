"""Pure helpers of ask-through-memory: merging pieces, ordering passages, document shape."""

from __future__ import annotations

import pytest

from memory.assembly import AssemblyConfig, Piece
from rag.answers import Passage
from rag.memory_ask import by_score, merge_pieces
from rag.memory_service import document_shape

pytestmark = pytest.mark.unit


def test_merge_joins_contiguous_pieces_of_one_source():
    text = "abcdefghij"
    pieces = [Piece("sink", 0, "d", 0, 2, 1, None, text[0:2]),
              Piece("block", 1, "d", 2, 5, 1, 0.7, text[2:5]),
              Piece("block", 3, "d", 7, 9, 1, 0.9, text[7:9]),
              Piece("local", 4, "d", 9, 10, 1, None, text[9:10]),
              Piece("local", 0, "e", 10, 11, 1, None, "x")]
    merged = merge_pieces(pieces)
    assert [(p.start, p.end, p.score, p.kind) for p in merged] == [
        (0, 5, 0.7, "block"), (7, 10, 0.9, "block"), (10, 11, None, "local")]
    assert all(text[p.start:p.end] == p.text for p in merged[:2])
    assert [p.n_tokens for p in merged] == [2, 2, 1]


def test_by_score_puts_unscored_last_in_order():
    def passage(n: int) -> Passage:
        return Passage(n, "d", "t", "x", 0, 1, 0.0)

    ordered = by_score([(None, passage(0)), (0.2, passage(1)), (0.9, passage(2)), (None, passage(3))])
    assert [p.chunk_id for p in ordered] == [2, 1, 0, 3]


@pytest.mark.parametrize("budget", [256, 1536, 4096, 20000])
def test_document_shape_fits_the_budget(budget):
    shape = document_shape(AssemblyConfig(), budget)
    assert shape.top_k >= 1
    assert shape.n_init + shape.n_local + shape.top_k * shape.block_tokens <= max(budget, 128 + 8)
    assert shape.n_local <= budget // 8
