"""Token counting for block segmentation and lexical terms for exact-key scoring."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

# Words joined by - . : / _ stay one term (UUIDs, versions, "torpid-kid"); parts are added too.
_TERM_RE = re.compile(r"\w+(?:[-.:/]\w+)*")
_PART_RE = re.compile(r"[^\W_]+")
_REGEX_TOKEN_RE = re.compile(r"\w+|[^\w\s]")

STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its me my "
    "of on or our she so that the their them there they this to was we were what when "
    "where which who why will with you your do does did not no can".split()
)


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the generator or embedder will see them."""

    def count(self, texts: Sequence[str]) -> list[int]:
        """Return the number of tokens of each text (no special tokens)."""
        ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Return the (start, end) character offsets of each token of `text`."""
        ...


class HFTokenCounter:
    """A `TokenCounter` over a Hugging Face fast tokenizer (one batched call per `count`)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def count(self, texts: Sequence[str]) -> list[int]:
        """Token counts of `texts`, computed in one batched tokenizer call."""
        if not texts:
            return []
        ids = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        return [len(row) for row in ids]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character offsets of the tokens of `text`."""
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [(int(s), int(e)) for s, e in enc["offset_mapping"]]


class RegexTokenCounter:
    """A model-free `TokenCounter`: words and single punctuation marks (for tests)."""

    def count(self, texts: Sequence[str]) -> list[int]:
        """Token counts of `texts`."""
        return [len(_REGEX_TOKEN_RE.findall(text)) for text in texts]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character offsets of the tokens of `text`."""
        return [m.span() for m in _REGEX_TOKEN_RE.finditer(text)]


def lexical_terms(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Split `text` into lowercase lexical terms for exact matching.

    Compound tokens (UUIDs, "torpid-kid", "3.14") are kept whole so that an exact key
    matches as one rare term; their alphanumeric parts are added as well.

    Args:
        text: Any text.
        drop_stopwords: Drop common English function words.

    Returns:
        The terms, in order, with repeats.
    """
    terms: list[str] = []
    for match in _TERM_RE.finditer(text.lower()):
        word = match.group(0)
        parts = _PART_RE.findall(word)
        if len(parts) > 1:
            terms.append(word)
        for part in parts:
            if not (drop_stopwords and part in STOPWORDS):
                terms.append(part)
    return terms
