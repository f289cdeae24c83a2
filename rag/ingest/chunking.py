"""Sentence splitting and sentence-aware chunking.

Pure functions over strings: no I/O, no state. Every span is a pair of character offsets
``(start, end)`` into the text that was passed in, so ``text[start:end]`` is the sentence
or chunk exactly as it appears in the document; citations keep those offsets.

Both functions run in linear time: one regex scan for sentence ends (possessive
quantifiers, no backtracking) and a two-pointer pass to pack sentences into chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TextSpan", "split_sentences", "chunk_text", "MIN_CHUNK_SIZE"]

MIN_CHUNK_SIZE = 50

# A run of sentence-final marks, closing quotes/brackets, then whitespace, then the next
# sentence's first character (captured, not consumed). Possessive quantifiers and the
# lookbehind (a match starts only at the first mark of a run) keep the scan linear.
_SENTENCE_END = re.compile(
    r"(?<![.!?\u2026\u3002\uff01\uff1f\uff0e])"
    r"(?P<mark>[.!?\u2026\u3002\uff01\uff1f\uff0e]++[\"'\u201d\u2019\u00bb)\]\u300d\u300f\uff09]*+)"
    r"(?P<space>\s*+)(?=(?P<next>\S))"
)
# A line break and any whitespace after it (the next line's indentation, blank lines).
_LINE_BREAK = re.compile(r"\n\s*+")
# A line that is a block of its own: a list item, a table row, a heading, a quote, a fence.
_BLOCK_LINE = re.compile(r"(?:[-*+\u2022]|\d{1,3}[.)]|#{1,6}|>)(?:[ \t]|$)|\||```")
_LIST_ITEM = re.compile(r"(?:[-*+\u2022]|\d{1,3}[.)])(?:[ \t]|$)")  # may wrap, like prose
# A line at least this long (and a line ending mid-phrase) wraps into the next one.
_WRAP_MIN = 40
_CONTINUES = frozenset(",;-\u2013\u2014(")
_CJK_MARKS = frozenset("\u3002\uff01\uff1f\uff0e")
# Words that end with a period without ending the sentence (compared lower-cased,
# without their final period).
_ABBREVIATIONS = frozenset(
    "mr mrs ms mx dr prof sr jr st mt ft vs cf al approx dept est fig figs eq eqs "
    "inc ltd co corp bros gen col lt sgt capt cmdr gov sen rep rev hon pres "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun "
    "e.g i.e u.s u.k u.n ph.d a.m p.m no nos vol vols pp p ed eds ch sec art".split()
)
# Abbreviations that only hold before a number: "No. 5", "p. 12", "Vol. 3".
_NUMERIC_ABBREVIATIONS = frozenset("no nos vol vols pp p ch sec art fig figs eq eqs".split())
_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_LOOKBACK = 24


@dataclass(frozen=True)
class TextSpan:
    """A half-open character range ``[start, end)`` of a text."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """Number of characters in the span."""
        return self.end - self.start

    def of(self, text: str) -> str:
        """Return the slice of ``text`` this span covers."""
        return text[self.start : self.end]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Split text into sentences, returned as offsets into ``text``.

    Rule based: a sentence ends at ``.``, ``!``, ``?`` or an ellipsis (with any closing
    quotes or brackets) followed by whitespace and a character that is not a lowercase
    letter; not after common abbreviations ("Dr.", "e.g.", "U.S.", "No. 5"), initials
    ("J. Smith") or inside numbers ("3.14"). CJK marks (。！？) end a sentence with or
    without a following space. A blank line always ends a sentence; a single line break
    does not when it wraps a line: the next line starts with a lowercase letter, or the
    line is long (40+ characters) or ends mid-phrase ("," ";" "-" "("). A short line
    before a capitalised one (a heading, a label) stays a sentence, and list items, table
    rows, headings and quotes (lines starting with "-", "1.", "|", "#", ">") are always
    their own lines. Offsets stay exact: a wrapped line break is kept inside the span.

    Args:
        text: Any text.

    Returns:
        Sentence spans ``(start, end)`` in order, each trimmed of surrounding whitespace,
        together covering every non-whitespace character of ``text``.
    """
    spans: list[tuple[int, int]] = []
    block_start = line_start = 0
    for brk in _LINE_BREAK.finditer(text):
        nxt = brk.end()
        single = brk.group().count("\n") == 1
        wrapped = single and nxt < len(text) and _wraps(text, line_start, brk.start(), nxt)
        line_start = nxt
        if wrapped:
            continue
        _split_block(text, block_start, brk.start(), spans)
        block_start = nxt
    _split_block(text, block_start, len(text), spans)
    return spans


def _wraps(text: str, line_start: int, line_end: int, nxt: int) -> bool:
    """Whether the line ``text[line_start:line_end]`` runs on into the line at ``nxt``."""
    if _BLOCK_LINE.match(text, nxt):
        return False  # the next line is a list item, table row, heading or quote
    if _BLOCK_LINE.match(text, line_start) and not _LIST_ITEM.match(text, line_start):
        return False  # a table row, heading or quote ends with its line
    if text[nxt].islower():
        return True
    line = text[line_start:line_end].rstrip()
    return len(line) >= _WRAP_MIN or (line != "" and line[-1] in _CONTINUES)


def _split_block(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    """Append the sentence spans of ``text[start:end]`` (one line block) to ``out``."""
    sent_start = start
    for m in _SENTENCE_END.finditer(text, start, end):
        if _is_boundary(text, m, start):
            _append_trimmed(text, sent_start, m.end("mark"), out)
            sent_start = m.end()
    _append_trimmed(text, sent_start, end, out)


def _is_boundary(text: str, m: re.Match[str], block_start: int) -> bool:
    """Decide whether a sentence-mark match really ends a sentence."""
    mark, space, nxt = m.group("mark", "space", "next")
    if not _CJK_MARKS.isdisjoint(mark):
        return True
    if not space or nxt.islower():
        return False
    if mark[0] != "." or mark.startswith(".."):
        return True  # "!", "?", an ellipsis: the next word is capitalised
    start = m.start()
    before = text[max(block_start, start - _LOOKBACK) : start]
    if not before or before[-1].isspace():
        return True
    token = before.rsplit(None, 1)[-1].lstrip("\"'(\u201c\u2018[").lower()
    if token.isdigit() and len(token) <= 3 and _starts_line(text, start - len(token), block_start):
        return False  # a numbered list item: "1. Badge"
    if token in _NUMERIC_ABBREVIATIONS:
        return not nxt.isdigit()
    if token in _ABBREVIATIONS or (len(token) > 2 and _ACRONYM.fullmatch(token)):
        return False
    return not (len(token) == 1 and token.isalpha())  # an initial: "J. Smith"


def _starts_line(text: str, pos: int, block_start: int) -> bool:
    """Whether only indentation lies between the start of ``pos``'s line and ``pos``."""
    low = max(block_start, pos - _LOOKBACK)  # bounded look-back keeps the scan linear
    newline = text.rfind("\n", low, pos)
    if newline < 0 and low > block_start:
        return False
    return text[newline + 1 if newline >= 0 else low : pos].strip() == ""


def _append_trimmed(text: str, start: int, end: int, out: list[tuple[int, int]]) -> None:
    """Append ``(start, end)`` shrunk to exclude outer whitespace, unless it is blank."""
    if start < end and not text[start].isspace() and not text[end - 1].isspace():
        out.append((start, end))  # the common case: already trimmed
        return
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        out.append((start, end))


def chunk_text(text: str, *, size: int = 1000, overlap: int = 200) -> list[tuple[int, int]]:
    """Pack whole sentences into chunks of at most ``size`` characters.

    Consecutive chunks share the longest run of whole trailing sentences that fits in
    ``overlap`` characters (capped at ``size // 2``). A sentence longer than ``size`` is
    cut at whitespace (or, with no whitespace, hard) into pieces of at most ``size``.
    A text whose stripped length is at most ``size`` gives exactly one chunk.

    Args:
        text: The document text.
        size: Maximum chunk length in characters, at least 50.
        overlap: Target overlap between consecutive chunks, ``0 <= overlap < size``.

    Returns:
        Chunk spans ``(start, end)`` into ``text`` with strictly increasing starts and
        ends, together covering every sentence. Empty for a blank text.

    Raises:
        ValueError: If ``size`` or ``overlap`` is out of range.
    """
    _check_args(size, overlap)
    stripped = _stripped_bounds(text)
    if stripped is None:
        return []
    if stripped[1] - stripped[0] <= size:
        return [stripped]
    units: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        if end - start <= size:
            units.append((start, end))
        else:
            units.extend(_split_long(text, start, end, size))
    return _pack(units, size, min(overlap, size // 2))


def _check_args(size: int, overlap: int) -> None:
    """Validate chunking arguments, quoting the bad value."""
    if isinstance(size, bool) or not isinstance(size, int) or size < MIN_CHUNK_SIZE:
        raise ValueError(f"size must be an integer >= {MIN_CHUNK_SIZE}, got {size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < size:
        raise ValueError(
            f"overlap must be an integer with 0 <= overlap < size ({size}), got {overlap!r}"
        )


def _stripped_bounds(text: str) -> tuple[int, int] | None:
    """Return the span of ``text`` without outer whitespace, or None if it is blank."""
    left = len(text) - len(text.lstrip())
    right = len(text.rstrip())
    return (left, right) if left < right else None


def _split_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence into pieces of at most ``size`` characters."""
    pieces: list[tuple[int, int]] = []
    while end - start > size:
        cut = start + size
        while cut > start and not text[cut].isspace():
            cut -= 1  # text[start + size] is the first character past the limit
        if cut == start:
            cut = start + size  # no whitespace: hard cut
        _append_trimmed(text, start, cut, pieces)
        start = cut
        while start < end and text[start].isspace():
            start += 1
    _append_trimmed(text, start, end, pieces)
    return pieces


def _pack(units: list[tuple[int, int]], size: int, overlap: int) -> list[tuple[int, int]]:
    """Greedily pack consecutive units (each at most ``size`` long) into chunks."""
    chunks: list[tuple[int, int]] = []
    first, n = 0, len(units)
    while first < n:
        last = first + 1  # one past the last unit in this chunk
        while last < n and units[last][1] - units[first][0] <= size:
            last += 1
        end = units[last - 1][1]
        chunks.append((units[first][0], end))
        if last == n:
            break
        nxt = last  # start of the next chunk: walk back over the overlap sentences
        while nxt - 1 > first and end - units[nxt - 1][0] <= overlap:
            nxt -= 1
        while nxt < last and units[last][1] - units[nxt][0] > size:
            nxt += 1  # the next chunk must still fit its first new unit
        first = nxt
    return chunks
