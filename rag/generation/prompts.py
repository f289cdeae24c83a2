"""Prompt assembly for LLM answers, and checking the citations in what the model wrote.

Pure functions over passages and a token counter; no model, no I/O.

- Passages are numbered `[1]..[n]` in the order shown, and shown against
  "lost in the middle" (Liu et al. 2023, https://arxiv.org/abs/2307.03172): models use
  what sits at the start and the end of a long context best, so the strongest passages go
  to both ends and the weakest to the middle.
- The context fits a token budget counted with the model's own tokenizer; the best
  passages are kept first and the last one kept may be cut short.
- The instruction asks the model to say so when the context does not hold the answer.
- Citations are checked against the passages shown: markers that name no passage are
  dropped, the rest are renumbered by first use so `[k]` is the answer's k-th citation.
- A sentence the model left uncited is attributed after the fact to the shown passage
  that shares most of its content words (at least half), if any (small models often
  answer correctly without markers); a sentence no passage supports stays uncited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.generation.answers import Passage

TokenCount = Callable[[str], int]
"""Counts the tokens of a text with the generator's own tokenizer."""

NOT_IN_CONTEXT = "The provided context does not contain the answer."

SYSTEM_PROMPT = (
    "You answer questions using only the numbered context passages.\n"
    "Cite the passage that supports each statement with its number in square brackets, "
    "like [1] or [2]. Example: The tower was completed in 1889 [2].\n"
    f"If the passages do not contain the answer, reply exactly: {NOT_IN_CONTEXT}\n"
    "Be brief: one to three sentences."
)

MIN_PARTIAL_TOKENS = 24
"""A passage is cut to fit the budget only when at least this many tokens of it fit."""

_MARKER_RE = re.compile(r"\[\s*(\d{1,3}(?:\s*,\s*\d{1,3})*)\s*\]")


@dataclass(frozen=True)
class Prompt:
    """Chat messages for the model and the passages they show.

    Attributes:
        messages: system + user messages (OpenAI chat format).
        sources: the passages shown; `sources[i]` is cited as `[i + 1]`.
        context_tokens: tokens the context block takes.
        left_out: retrieved passages that did not fit the budget.
    """

    messages: list[dict[str, str]]
    sources: list[Passage]
    context_tokens: int
    left_out: int = 0


@dataclass(frozen=True)
class CitationCheck:
    """An answer with its citation markers checked and renumbered.

    Attributes:
        text: the answer, each valid marker renumbered, invalid ones removed.
        cited: 0-based indices into the prompt's sources, in order of first citation;
            the answer's `[k]` refers to `cited[k - 1]`.
        dropped: the numbers the model cited that name no passage.
    """

    text: str
    cited: list[int]
    dropped: list[int] = field(default_factory=list)


def lost_in_the_middle_order(n: int) -> list[int]:
    """Positions for `n` ranked items: the best at both ends, the weakest in the middle.

    Rank 0 goes first, rank 1 last, rank 2 second, rank 3 second to last, and so on.

    Args:
        n: how many items, ranked best first.

    Returns:
        The ranks in display order, e.g. `[0, 2, 4, 3, 1]` for 5.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    front, back = [], []
    for rank in range(n):
        (front if rank % 2 == 0 else back).append(rank)
    return front + back[::-1]


def truncate_to_tokens(text: str, limit: int, count_tokens: TokenCount) -> str:
    """The longest prefix of `text`, cut at a word boundary and marked " ...", that has at
    most `limit` tokens (`text` itself when it fits)."""
    if limit <= 0:
        return ""
    if count_tokens(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the " ..." that marks the cut
        mid = (low + high + 1) // 2
        if count_tokens(text[:mid] + " ...") <= limit:
            low = mid
        else:
            high = mid - 1
    cut = text[:low]
    space = cut.rfind(" ")
    return (cut[:space] if space > low // 2 else cut).rstrip() + " ..."


def format_passage(number: int, passage: Passage) -> str:
    """One context entry: `[n] Title` and the passage text."""
    title = passage.title.strip()
    head = f"[{number}] {title}" if title else f"[{number}]"
    return f"{head}\n{passage.text.strip()}"


def select_passages(passages: Sequence[Passage], *, budget: int, count_tokens: TokenCount,
                    ) -> tuple[list[Passage], int]:
    """The best passages (in rank order) whose formatted entries fit `budget` tokens.

    The first passage that does not fit whole is cut short when enough of it fits;
    everything ranked after it is left out.

    Args:
        passages: retrieved passages, best first.
        budget: tokens the context may take.
        count_tokens: the model's token counter.

    Returns:
        (the kept passages, best first; the tokens they take).
    """
    kept: list[Passage] = []
    used = 0
    for passage in passages:
        number = len(kept) + 1
        cost = count_tokens(format_passage(number, passage)) + 1  # +1: the blank line between
        if used + cost <= budget:
            kept.append(passage)
            used += cost
            continue
        head = count_tokens(format_passage(number, _with_text(passage, ""))) + 2
        room = budget - used - head
        if room >= MIN_PARTIAL_TOKENS:
            short = _with_text(passage, truncate_to_tokens(passage.text, room, count_tokens))
            kept.append(short)
            used += count_tokens(format_passage(number, short)) + 1
        break
    return kept, used


def _with_text(passage: Passage, text: str) -> Passage:
    return Passage(passage.chunk_id, passage.document_id, passage.title, text, passage.start,
                   passage.start + len(text) if text else passage.start, passage.score)


def user_message(question: str, context: str) -> str:
    """The user turn: the numbered context, then the question."""
    return f"Context passages:\n\n{context}\n\nQuestion: {question.strip()}\nAnswer:"


def build_prompt(question: str, passages: Sequence[Passage], *, count_tokens: TokenCount,
                 max_prompt_tokens: int, max_context_tokens: int | None = None) -> Prompt:
    """Chat messages that ask `question` over `passages` within a token budget.

    Args:
        question: the user's question.
        passages: retrieved passages, best first.
        count_tokens: the model's token counter.
        max_prompt_tokens: tokens the whole prompt may take (the model's context length
            less the tokens reserved for the answer).
        max_context_tokens: a smaller cap for the passages alone (optional).

    Returns:
        The prompt; its sources are numbered in display order.

    Raises:
        ValueError: when the instruction and the question alone exceed the budget.
    """
    fixed = count_tokens(SYSTEM_PROMPT) + count_tokens(user_message(question, "")) + 16
    budget = max_prompt_tokens - fixed  # 16: chat-template tokens around each turn
    if max_context_tokens is not None:
        budget = min(budget, max_context_tokens)
    if budget < 0:
        raise ValueError(f"the question and instructions take about {fixed} tokens, over the "
                         f"prompt budget of {max_prompt_tokens}")
    kept, used = select_passages(passages, budget=budget, count_tokens=count_tokens)
    shown = [kept[rank] for rank in lost_in_the_middle_order(len(kept))]
    context = "\n\n".join(format_passage(n, p) for n, p in enumerate(shown, start=1))
    messages = [{"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_message(question, context)}]
    return Prompt(messages, shown, used, left_out=len(passages) - len(kept))


def check_citations(text: str, n_sources: int) -> CitationCheck:
    """Check the `[n]` markers of an answer against the `n_sources` passages shown.

    `[2, 5]` is read as two citations. A number outside `1..n_sources` is dropped; the
    others are renumbered by first use, so the answer's `[k]` is its k-th citation.

    Args:
        text: the model's answer.
        n_sources: how many passages the prompt showed.

    Returns:
        The checked answer.
    """
    renumber = CitationRenumberer(n_sources)
    checked = _MARKER_RE.sub(lambda m: renumber.marker(m.group(1)), text)
    checked = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", checked)).strip()
    return CitationCheck(checked, list(renumber.cited), list(renumber.dropped))


_SENTENCE_RE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
_WORD_RE = re.compile(r"[^\W_]{3,}")
_STOP = frozenset("the and are was were for with that this from which who whom what when where "
                  "has have had its his her their they them not but all any can also been".split())


def content_words(text: str) -> set[str]:
    """Lower-cased words of three or more letters, minus common function words."""
    return {w for w in _WORD_RE.findall(text.lower()) if w not in _STOP}


def attribute_sentences(text: str, sources: Sequence[Passage], *, min_overlap: float = 0.5) -> str:
    """Add a `[n]` to each uncited sentence that a shown passage supports.

    A sentence is supported by the passage sharing the largest share of its content
    words, when that share is at least `min_overlap`. Cited sentences are left alone.

    Args:
        text: the model's answer (its markers number the shown passages).
        sources: the passages shown, `sources[i]` being `[i + 1]`.
        min_overlap: the least share of the sentence's content words found in the passage.

    Returns:
        The answer with markers added where support was found.
    """
    vocab = [content_words(f"{p.title} {p.text}") for p in sources]
    out = []
    for match in _SENTENCE_RE.finditer(text):
        sentence = match.group(0)
        words = content_words(sentence)
        if _MARKER_RE.search(sentence) or not words or not vocab:
            out.append(sentence)
            continue
        shares = [len(words & v) / len(words) for v in vocab]
        best = max(range(len(shares)), key=shares.__getitem__)
        if shares[best] < min_overlap:
            out.append(sentence)
            continue
        body = sentence.rstrip()
        stripped = body.rstrip(".!?")
        out.append(f"{stripped} [{best + 1}]{body[len(stripped):]}{sentence[len(body):]}")
    return "".join(out) if out else text


def says_not_in_context(text: str) -> bool:
    """Whether the answer is the model saying the context lacks the answer."""
    flat = " ".join(text.lower().split())
    return (NOT_IN_CONTEXT.lower().rstrip(".") in flat or "does not contain the answer" in flat
            or flat in {"", "i don't know.", "i don't know", "i do not know."})


class CitationRenumberer:
    """Maps source numbers cited by the model to the answer's own numbering."""

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self.cited: list[int] = []
        self.dropped: list[int] = []

    def marker(self, numbers: str) -> str:
        """The replacement for one marker's inside, e.g. `"3, 9"` -> `"[1]"` (9 dropped)."""
        out = []
        for part in numbers.split(","):
            number = int(part)
            if not 1 <= number <= self.n_sources:
                self.dropped.append(number)
                continue
            if number - 1 not in self.cited:
                self.cited.append(number - 1)
            out.append(f"[{self.cited.index(number - 1) + 1}]")
        return "".join(dict.fromkeys(out))


class StreamingCitationFilter:
    """Applies `check_citations` to text arriving in pieces.

    A piece that may hold the start of a marker is held back until the marker closes (or
    clearly is not one), so what comes out, joined, is the checked answer.
    """

    MAX_MARKER = 16

    def __init__(self, n_sources: int) -> None:
        self.renumber = CitationRenumberer(n_sources)
        self.pending = ""

    def feed(self, piece: str) -> str:
        """Take the next piece of model output; return what can be shown now."""
        self.pending += piece
        out = []
        while self.pending:
            start = self.pending.find("[")
            if start < 0:
                out.append(self.pending)
                self.pending = ""
                break
            out.append(self.pending[:start])
            self.pending = self.pending[start:]
            match = _MARKER_RE.match(self.pending)
            if match:
                out.append(self.renumber.marker(match.group(1)))
                self.pending = self.pending[match.end():]
            elif _could_become_marker(self.pending) and len(self.pending) < self.MAX_MARKER:
                break
            else:
                out.append(self.pending[0])
                self.pending = self.pending[1:]
        return "".join(out)

    def finish(self) -> str:
        """Whatever is still held back, at the end of the stream."""
        rest, self.pending = self.pending, ""
        return rest

    @property
    def cited(self) -> list[int]:
        """0-based source indices in order of first citation."""
        return list(self.renumber.cited)

    @property
    def dropped(self) -> list[int]:
        """Cited numbers that named no passage."""
        return list(self.renumber.dropped)


def _could_become_marker(text: str) -> bool:
    """Whether `text` (starting with "[") is a prefix of a citation marker."""
    return re.fullmatch(r"\[\s*(\d{1,3}(\s*,\s*\d{0,3})*)?\s*", text) is not None
