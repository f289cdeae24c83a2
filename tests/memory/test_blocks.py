"""Segmentation into blocks, representative spans and lexical terms (no model)."""

from __future__ import annotations

import pytest

from memory.blocks import Block, salient_spans, segment, split_units
from memory.lexical import LexicalIndex
from memory.tokens import RegexTokenCounter, lexical_terms

pytestmark = pytest.mark.unit

COUNTER = RegexTokenCounter()
TEXT = " ".join(f"Sentence number {i} talks about topic {i % 7} at some length." for i in range(200))


def test_units_cover_text_without_gaps():
    text = "One. Two!  Three?\nFour\n\nfive"
    units = split_units(text)
    assert units[0][0] == 0 and units[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(units, units[1:], strict=False))
    assert [text[s:e].strip() for s, e in units] == ["One.", "Two!", "Three?", "Four", "five"]


@pytest.mark.parametrize("block_tokens", [8, 32, 128])
def test_blocks_respect_size_and_round_trip(block_tokens):
    blocks = segment(TEXT, COUNTER, block_tokens=block_tokens)
    assert "".join(TEXT[b.start : b.end] for b in blocks) == TEXT
    for b in blocks:
        assert 0 < b.n_tokens <= block_tokens
        assert COUNTER.count([TEXT[b.start : b.end]])[0] == b.n_tokens
    assert sum(b.n_tokens for b in blocks) == COUNTER.count([TEXT])[0]


def test_blocks_end_at_sentence_boundaries():
    blocks = segment(TEXT, COUNTER, block_tokens=40)
    for b in blocks[:-1]:
        assert TEXT[b.start : b.end].rstrip().endswith(".")


def test_oversize_unit_is_cut_at_token_boundaries():
    text = "word " * 300  # one unit with no sentence end
    blocks = segment(text, COUNTER, block_tokens=64)
    assert [b.n_tokens for b in blocks] == [64, 64, 64, 64, 44]
    assert "".join(text[b.start : b.end] for b in blocks) == text


def test_empty_text_and_bad_size():
    assert segment("", COUNTER) == []
    with pytest.raises(ValueError, match="block_tokens"):
        segment("x", COUNTER, block_tokens=0)


def test_salient_span_is_the_rare_sentence():
    filler = "The grass is green. The sky is blue. " * 5
    text = filler + "The pass key is 69682. Remember it. " + filler
    lex = LexicalIndex()
    lex.add([filler, filler, text])
    block = Block(0, len(text), COUNTER.count([text])[0])
    spans = salient_spans(text, block, lex.idf, n_spans=1)
    assert text[spans[0][0] : spans[0][1]] == "The pass key is 69682."


def test_salient_spans_are_clipped():
    text = "alpha " * 100 + "zebra."
    spans = salient_spans(text, Block(0, len(text), 101), lambda ts: [1.0] * len(ts), max_chars=50)
    assert all(e - s <= 50 for s, e in spans)


def test_lexical_terms_keep_keys_whole():
    uuid = "94071d67-86df-455c-8ee9-691e492ff740"
    terms = lexical_terms(f'Key: "{uuid}" and line torpid-kid is <2416>')
    assert uuid in terms and "torpid-kid" in terms and "2416" in terms
    assert "torpid" in terms and "and" not in terms


def test_lexical_index_finds_exact_uuid():
    lex = LexicalIndex()
    docs = [f'"{i:08d}-aaaa-bbbb": "{i:08d}-cccc"' for i in range(50)]
    lex.add(docs)
    scores = lex.scores('Key: "00000017-aaaa-bbbb"')
    assert int(scores.argmax()) == 17
