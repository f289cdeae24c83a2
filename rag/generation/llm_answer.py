"""Cited answers from an LLM: build the prompt, generate, check the citations.

`LLMAnswerer` is an `AnswerGenerator` (rag.retrieval.pipeline) over any `Generator` backend, and
streams too. Events of a stream are `AnswerEvent`s: text pieces as the model writes them
(citation markers already checked and renumbered), then the finished `Answer`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rag.generation.answers import NO_ANSWER, Answer, AnswerEvent, Citation, Passage
from rag.generation.base import GenerationParams, Generator
from rag.generation.prompts import (
    StreamingCitationFilter,
    attribute_sentences,
    build_prompt,
    check_citations,
    says_not_in_context,
)


def cite(passage: Passage) -> Citation:
    """The citation of a whole passage the model cited."""
    return Citation(passage.chunk_id, passage.document_id, passage.title, passage.text,
                    passage.start, passage.end, passage.score)


class LLMAnswerer:
    """Answers a question over passages with an LLM, each statement cited `[n]`.

    Args:
        generator: the backend (loaded by `load()`).
        max_tokens: answer length cap.
        max_context_tokens: token budget for the passages.
        temperature: sampling temperature (0: greedy).
    """

    def __init__(self, generator: Generator, *, max_tokens: int = 256, max_context_tokens: int = 1536,
                 temperature: float = 0.0) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens!r}")
        self.generator = generator
        self.name = generator.name
        self.params = GenerationParams(max_tokens=max_tokens, temperature=temperature)
        self.max_context_tokens = max_context_tokens

    def load(self) -> LLMAnswerer:
        """Start the backend."""
        self.generator.load()
        return self

    def close(self) -> None:
        """Stop the backend."""
        self.generator.close()

    def prompt(self, question: str, passages: Sequence[Passage]):  # noqa: ANN201 - rag.generation.prompts.Prompt
        """The prompt for `question`, within the model's context and the passage budget."""
        return build_prompt(question, passages, count_tokens=self.generator.count_tokens,
                            max_prompt_tokens=self.generator.max_model_len - self.params.max_tokens,
                            max_context_tokens=self.max_context_tokens)

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        """A cited answer, or an abstention when nothing was retrieved or the model says
        the passages do not hold the answer."""
        if not passages:
            return Answer(NO_ANSWER, [], True, self.name)
        prompt = self.prompt(question, passages)
        text = self.generator.generate(prompt.messages, self.params)
        return self.finish(text, prompt.sources)

    def finish(self, text: str, sources: Sequence[Passage]) -> Answer:
        """The checked answer for the model's raw `text` over the prompt's `sources`."""
        checked = check_citations(attribute_sentences(text, sources), len(sources))
        citations = [cite(sources[i]) for i in checked.cited]
        abstained = says_not_in_context(checked.text)
        return Answer(checked.text or NO_ANSWER, [] if abstained else citations, abstained, self.name)

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[AnswerEvent]:
        """The answer as it is written, then the finished `Answer` (same as `answer()`)."""
        if not passages:
            yield AnswerEvent(NO_ANSWER)
            yield AnswerEvent(answer=Answer(NO_ANSWER, [], True, self.name))
            return
        prompt = self.prompt(question, passages)
        checker = StreamingCitationFilter(len(prompt.sources))
        raw = []
        for piece in self.generator.stream(prompt.messages, self.params):
            raw.append(piece)
            shown = checker.feed(piece)
            if shown:
                yield AnswerEvent(shown)
        rest = checker.finish()
        if rest:
            yield AnswerEvent(rest)
        yield AnswerEvent(answer=self.finish("".join(raw), prompt.sources))


def stream_whole(answer: Answer) -> Iterator[AnswerEvent]:
    """Stream an answer made whole (the extractive one): a piece per cited sentence."""
    parts = answer.answer.split("] ")
    for n, part in enumerate(parts):
        yield AnswerEvent(part + ("] " if n < len(parts) - 1 else ""))
    yield AnswerEvent(answer=answer)


def answer_events(answerer: object, question: str, passages: Sequence[Passage], trace: dict,
                  ) -> Iterator[AnswerEvent]:
    """Stream any answer generator: LLM answerers stream tokens, others (extractive)
    answer whole and are streamed a cited sentence at a time. The final event's answer
    carries the retrieval `trace`."""
    stream = getattr(answerer, "stream", None)
    events = stream(question, passages) if callable(stream) else stream_whole(
        answerer.answer(question, passages))  # type: ignore[attr-defined]
    for event in events:
        if event.answer is not None:
            event.answer.retrieval = trace
        yield event
