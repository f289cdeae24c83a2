"""Tests for rag.ingest.chunking: sentence splitting and sentence-aware chunking."""

from __future__ import annotations

import random

import pytest

from rag.ingest.chunking import TextSpan, chunk_text, split_sentences

pytestmark = pytest.mark.unit


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Dr. Smith met Mr. Jones. They talked.", ["Dr. Smith met Mr. Jones.", "They talked."]),
        ("Use a tool, e.g. Python. Or i.e. Rust.", ["Use a tool, e.g. Python.", "Or i.e. Rust."]),
        ("The U.S. Army is large. It has bases.", ["The U.S. Army is large.", "It has bases."]),
        ("See No. 5 here. Then St. Louis.", ["See No. 5 here.", "Then St. Louis."]),
        ("It costs 3.50 dollars. Pi is 3.14159.", ["It costs 3.50 dollars.", "Pi is 3.14159."]),
        ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
        ("Wait... What? No way... maybe.", ["Wait...", "What?", "No way... maybe."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("(A quote.) Next one.", ["(A quote.)", "Next one."]),
        ("Yahoo! is a company. Ok.", ["Yahoo! is a company.", "Ok."]),
        ("Version 2. 3 people came.", ["Version 2.", "3 people came."]),
        (
            "今天天气很好。我们去公园吧！你呢？好的。",
            ["今天天气很好。", "我们去公园吧！", "你呢？", "好的。"],
        ),
        ("中文句子。 English follows.", ["中文句子。", "English follows."]),
        ("Title\n\nFirst para. Second.", ["Title", "First para.", "Second."]),
        ("- item one\n- item two", ["- item one", "- item two"]),
        ("A wrapped\nline continues here.", ["A wrapped\nline continues here."]),
        ("Line one\nLine two", ["Line one", "Line two"]),
        ("   \n\t  ", []),
        ("", []),
    ],
)
def test_split_sentences_known_cases(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_split_sentences_keeps_unicode_intact() -> None:
    text = "Café 😀 works. שלום עולם. E\u0301 combining! مرحبا بالعالم."
    assert sentences(text) == [
        "Café 😀 works.",
        "שלום עולם.",
        "E\u0301 combining!",
        "مرحبا بالعالم.",
    ]


def _random_text(rng: random.Random, n_tokens: int) -> str:
    vocab = [
        "word",
        "Dr.",
        "e.g.",
        "3.14",
        "End.",
        "Why?",
        "Yes!",
        "...",
        "U.S.",
        "。",
        "文字",
        "\n",
        "\n\n",
        "  ",
        "\t",
        "x",
        "Émile",
        "😀",
        '"Quote."',
        "(paren.)",
        "No.",
        "5",
    ]
    return "".join(rng.choice(vocab) + rng.choice([" ", "", " ", "\n"]) for _ in range(n_tokens))


@pytest.mark.parametrize("seed", range(40))
def test_split_sentences_spans_are_trimmed_ordered_and_cover_all_content(seed: int) -> None:
    rng = random.Random(seed)
    text = _random_text(rng, rng.randint(0, 300))
    spans = split_sentences(text)
    covered = bytearray(len(text))
    prev_end = 0
    for start, end in spans:
        assert prev_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        covered[start:end] = b"\x01" * (end - start)
        prev_end = end
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text))


def test_split_sentences_is_linear_on_pathological_runs() -> None:
    text = "." * 200_000 + " " * 200_000 + "!" * 100_000
    assert split_sentences(text) == [(0, 200_000), (400_000, 500_000)]


def test_short_text_is_one_chunk_covering_the_stripped_text() -> None:
    text = "  \n A benchmark passage. It must never be split. \n"
    assert chunk_text(text, size=100, overlap=20) == [(4, len(text.rstrip()))]
    passage = "x. " * 333 + "y"  # exactly 1000 characters
    assert chunk_text(passage) == [(0, 1000)]


def test_blank_text_has_no_chunks() -> None:
    assert chunk_text("") == []
    assert chunk_text(" \n\t ") == []


def _check_chunks(text: str, chunks: list[tuple[int, int]], size: int) -> None:
    assert chunks, "a non-blank text has at least one chunk"
    for (s1, e1), (s2, e2) in zip(chunks, chunks[1:], strict=False):
        assert s1 < s2 and e1 < e2
    for start, end in chunks:
        assert 0 <= start < end <= len(text) and end - start <= size
        assert text[start:end] == text[start:end].strip()
    covered = bytearray(len(text))
    for start, end in chunks:
        covered[start:end] = b"\x01" * (end - start)
    assert all(covered[i] or ch.isspace() for i, ch in enumerate(text))


@pytest.mark.parametrize("seed", range(30))
def test_chunk_offsets_round_trip_on_random_text(seed: int) -> None:
    rng = random.Random(1000 + seed)
    text = _random_text(rng, rng.randint(50, 1500))
    size = rng.choice([50, 80, 200, 500])
    overlap = rng.randint(0, size - 1)
    _check_chunks(text, chunk_text(text, size=size, overlap=overlap), size)


def test_chunks_pack_whole_sentences_and_overlap_by_whole_sentences() -> None:
    sents = [f"Sentence number {i:02d} is here." for i in range(30)]  # 29 chars each
    text = " ".join(sents)
    chunks = chunk_text(text, size=100, overlap=40)
    _check_chunks(text, chunks, 100)
    pieces = [text[s:e] for s, e in chunks]
    assert pieces[0] == " ".join(sents[:3])  # 3 * 29 + 2 = 89 <= 100 < 119
    assert pieces[1] == " ".join(sents[2:5])  # one whole sentence (29 <= 40) repeated
    for a, b in zip(chunks, chunks[1:], strict=False):
        overlap = a[1] - b[0]
        assert 0 < overlap <= 40


def test_zero_overlap_gives_disjoint_chunks() -> None:
    text = " ".join(f"Short sentence {i}." for i in range(50))
    chunks = chunk_text(text, size=120, overlap=0)
    _check_chunks(text, chunks, 120)
    assert all(a[1] <= b[0] for a, b in zip(chunks, chunks[1:], strict=False))


def test_overlap_is_capped_at_half_the_size() -> None:
    text = " ".join(f"S{i:03d} ends." for i in range(200))  # 10 chars each
    chunks = chunk_text(text, size=100, overlap=99)
    _check_chunks(text, chunks, 100)
    assert all(a[1] - b[0] <= 50 for a, b in zip(chunks, chunks[1:], strict=False))


def test_long_sentence_is_split_at_whitespace() -> None:
    words = [f"w{i:03d}" for i in range(400)]  # 4 chars each, one 1999-char sentence
    text = "Start. " + " ".join(words) + ". End."
    chunks = chunk_text(text, size=100, overlap=0)
    _check_chunks(text, chunks, 100)
    for start, end in chunks:  # never cuts a word in half
        assert start == 0 or text[start - 1] == " "
        assert end == len(text) or text[end] == " "


def test_long_token_without_whitespace_is_hard_cut() -> None:
    text = "Intro. " + "a" * 250 + " outro."
    chunks = chunk_text(text, size=100, overlap=10)
    _check_chunks(text, chunks, 100)
    assert [text[s:e] for s, e in chunks][1:3] == ["a" * 100, "a" * 100]


def test_paragraph_text_uses_original_offsets() -> None:
    text = "\n\n  Heading\n\nBody sentence one. Body sentence two.\r\n\r\nLast one!  "
    chunks = chunk_text(text, size=50, overlap=0)
    assert [text[s:e] for s, e in chunks] == [
        "Heading\n\nBody sentence one. Body sentence two.",
        "Last one!",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 49}, "size must be an integer >= 50, got 49"),
        ({"size": 100.0}, "got 100.0"),
        ({"size": True}, "got True"),
        ({"size": 100, "overlap": 100}, "got 100"),
        ({"size": 100, "overlap": -1}, "got -1"),
        ({"size": 100, "overlap": "5"}, "got '5'"),
    ],
)
def test_chunk_text_validates_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        chunk_text("Some text.", **kwargs)


def test_text_span_helpers() -> None:
    span = TextSpan(2, 5)
    assert span.length == 3
    assert span.of("abcdefg") == "cde"


WRAPPED = (
    "The annual conference will be held in the city of\n"
    "Valencia during the second week of May. Registration opens in\n"
    "March, and the venue is the Palau de les Arts,\n"
    "Valencia's opera house.\n\nNext paragraph."
)


def test_split_sentences_joins_hard_wrapped_lines() -> None:
    """Issue 19.1: a single line break inside a paragraph is not a sentence end."""
    assert sentences(WRAPPED) == [
        "The annual conference will be held in the city of\n"
        "Valencia during the second week of May.",
        "Registration opens in\nMarch, and the venue is the Palau de les Arts,\n"
        "Valencia's opera house.",
        "Next paragraph.",
    ]
    for start, end in split_sentences(WRAPPED):  # offsets into the document stay exact
        assert WRAPPED[start:end] == WRAPPED[start:end].strip() and end - start > 0
    pdf_like = "Mount Etna is an active volcano on the east coast of\r\nSicily, Italy."
    assert sentences(pdf_like) == [pdf_like]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Parking\nLevel -2, spots 40 to 55", ["Parking", "Level -2, spots 40 to 55"]),
        ("# Project Falcon notes\nThe team meets on Mondays.",
         ["# Project Falcon notes", "The team meets on Mondays."]),
        ("| Floor | Spots |\n| Level -2 | 40 to 55 |", ["| Floor | Spots |", "| Level -2 | 40 to 55 |"]),
        ("Bring these items to the conference desk on arrival:\n- Passport\n1. Badge",
         ["Bring these items to the conference desk on arrival:", "- Passport", "1. Badge"]),
        ("- a list item that is long enough to wrap onto the next\n  Line of text\n- next",
         ["- a list item that is long enough to wrap onto the next\n  Line of text", "- next"]),
        ("> A quoted line that is long enough to count as wrapped\n> Another quoted line",
         ["> A quoted line that is long enough to count as wrapped", "> Another quoted line"]),
    ],
)
def test_split_sentences_keeps_block_lines(text: str, expected: list[str]) -> None:
    """Short label lines, headings, table rows, list items and quotes end at their line."""
    assert sentences(text) == expected
