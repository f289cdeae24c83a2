"""BM25 tokenization: bm25s-compatible English, stopwords, stemming, CJK bigrams."""

from __future__ import annotations

import pytest

from indexes.tokenize import BM25Tokenizer, cjk_bigrams, split_words

pytestmark = pytest.mark.unit


def test_split_words_lowercases_and_drops_single_characters() -> None:
    assert split_words("The U.S. Army's 2nd Division, A-B test") == [
        "the", "army", "2nd", "division", "test"]


def test_cjk_runs_become_bigrams() -> None:
    assert cjk_bigrams("首都") == ["首都"]
    assert cjk_bigrams("北京市") == ["北京", "京市"]
    assert cjk_bigrams("京") == ["京"]
    assert split_words("我在北京工作") == ["我在", "在北", "北京", "京工", "工作"]


def test_mixed_scripts() -> None:
    assert split_words("iPhone在東京で発売") == ["iphone", "在東", "東京", "京で", "で発", "発売"]
    assert split_words("서울 Seoul") == ["서울", "seoul"]


def test_tokenizer_removes_stopwords_and_stems() -> None:
    tokenize = BM25Tokenizer()
    assert tokenize("The runners are running quickly to the stations") == [
        "runner", "run", "quick", "station"]
    assert tokenize("the and of a") == []
    assert tokenize("") == []


def test_tokenizer_keeps_duplicates_in_order() -> None:
    assert BM25Tokenizer()("cats chase cats") == ["cat", "chase", "cat"]


def test_custom_stopwords() -> None:
    tokenize = BM25Tokenizer(stopwords=["cats"])
    assert tokenize("the cats") == ["the"]


def test_stopwords_are_bm25s_english_list() -> None:
    """The copy (kept so tokenizing does not import bm25s and scipy) matches bm25s's list."""
    from bm25s.stopwords import STOPWORDS_EN as reference

    from indexes.tokenize import STOPWORDS_EN

    assert STOPWORDS_EN == tuple(reference)
    assert BM25Tokenizer().stopwords == frozenset(reference)
