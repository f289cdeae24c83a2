"""BM25 tokenization: bm25s's word pattern, English stopwords and Snowball stemming,
plus character bigrams for Chinese, Japanese and Korean text, which has no spaces.

Latin-script text is tokenized exactly as `bm25s.tokenize(..., stopwords="en",
stemmer=Stemmer("english"))` does, so our scores match the bm25s reference numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from indexes.errors import MissingDependencyError

# Han, Hiragana, Katakana, Hangul and CJK compatibility ideographs.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
# A CJK run, or a run of two or more other word characters (bm25s: r"(?u)\b\w\w+\b").
_TOKEN_RE = re.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])\w){{2,}}")
_CJK_RE = re.compile(rf"[{_CJK}]")
# bm25s.stopwords.STOPWORDS_EN, copied: importing it loads all of bm25s and scipy.sparse,
# 0.15 s of every CLI start-up (issue 19.7); a test keeps the two equal.
STOPWORDS_EN = ("a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in",
                "into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the",
                "their", "then", "there", "these", "they", "this", "to", "was", "will", "with")


def cjk_bigrams(run: str) -> list[str]:
    """Overlapping character bigrams of a CJK run (a lone character stays a unigram)."""
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def split_words(text: str) -> list[str]:
    """Lower-cased raw tokens of `text`: word runs, with CJK runs as bigrams."""
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        word = match.group()
        if _CJK_RE.match(word):
            tokens.extend(cjk_bigrams(word))
        else:
            tokens.append(word)
    return tokens


class BM25Tokenizer:
    """Turns text into BM25 terms; stems are memoized per instance."""

    def __init__(self, *, language: str = "english", stopwords: Iterable[str] | None = None) -> None:
        self.language = language
        if stopwords is None:
            stopwords = STOPWORDS_EN
        self.stopwords = frozenset(stopwords)
        self._stemmer = None
        self._stems: dict[str, str] = {}

    def _stem_all(self, words: list[str]) -> list[str]:
        if self._stemmer is None:
            try:
                import Stemmer
            except ImportError as exc:
                raise MissingDependencyError("BM25 stemming needs PyStemmer: pip install PyStemmer") from exc
            self._stemmer = Stemmer.Stemmer(self.language)
        missing = [w for w in set(words) if w not in self._stems]
        if missing:
            self._stems.update(zip(missing, self._stemmer.stemWords(missing), strict=True))
        return [self._stems[w] for w in words]

    def __call__(self, text: str) -> list[str]:
        """Terms of `text`, in order, duplicates kept."""
        words = [w for w in split_words(text) if w not in self.stopwords]
        return self._stem_all(words)
