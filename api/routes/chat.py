"""OpenAI-compatible `POST /v1/chat/completions`: `model` names a collection.

The last user message is the question; the answer comes with its citations (an extra
`citations` field, in the response or in the last stream chunk), so existing chat
clients (the `openai` package, chat UIs) can use the service.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import PrincipalDep, ServiceDep, visible_collection
from api.schemas import (
    ChatChoice,
    ChatChoiceMessage,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatUsage,
)
from rag.errors import InvalidInputError, RagmemError
from rag.generation.answers import AnswerEvent
from rag.retrieval.pipeline import stream_found
from rag.service.core import RagService

router = APIRouter(prefix="/v1", tags=["openai"])


def last_user_message(body: ChatCompletionRequest) -> str:
    """The question: the text of the last user message.

    Raises:
        InvalidInputError: when no user message has text.
    """
    for message in reversed(body.messages):
        if message.role == "user" and message.text().strip():
            return message.text()
    raise InvalidInputError("messages hold no user message with text")


def count_tokens(service: RagService, texts: list[str]) -> int:
    """Tokens of `texts` with the embedder's tokenizer (whitespace words without one)."""
    texts = [t for t in texts if t]
    if not texts:
        return 0
    tokenizer = getattr(service.embedder, "tokenizer", None)
    if tokenizer is None:
        return sum(len(t.split()) for t in texts)
    return sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])


def usage(service: RagService, body: ChatCompletionRequest, answer: str) -> ChatUsage:
    """OpenAI's `usage`: the messages sent (prompt) and the answer (completion), counted
    with the collection's embedder tokenizer."""
    prompt = count_tokens(service, [m.text() for m in body.messages])
    completion = count_tokens(service, [answer])
    return ChatUsage(prompt_tokens=prompt, completion_tokens=completion,
                     total_tokens=prompt + completion)


@router.post("/chat/completions", response_model=ChatCompletionResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "JSON, or with `stream: true` OpenAI chunks"}})
def chat_completions(body: ChatCompletionRequest, service: ServiceDep,
                     principal: PrincipalDep) -> Any:
    collection = visible_collection(service, principal, body.model)
    question = last_user_message(body)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        answer = service.ask(collection, question, retriever=body.retriever, top_k=body.top_k,
                             generator=body.generator)
        return ChatCompletionResponse(
            id=completion_id, created=created, model=body.model,
            choices=[ChatChoice(message=ChatChoiceMessage(content=answer.answer))],
            usage=usage(service, body, answer.answer),
            citations=[c.to_dict() for c in answer.citations], abstained=answer.abstained,
            generator=answer.generator)
    answerer = service.answerer(body.generator)
    found = service.retrieve(collection, question, retriever=body.retriever, top_k=body.top_k)
    events = stream_found(answerer, question, found)
    head = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
            "model": body.model}
    count = lambda answer: usage(service, body, answer).model_dump()  # noqa: E731
    return StreamingResponse(chat_sse(events, head, count), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def chunk(head: dict[str, Any], delta: dict[str, Any], finish: str | None = None,
          **extra: Any) -> str:
    """One `chat.completion.chunk` as an SSE data line."""
    data = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def chat_sse(events: Iterator[AnswerEvent], head: dict[str, Any],
             count: Callable[[str], dict[str, int]] | None = None) -> Iterator[str]:
    """OpenAI's stream: a role chunk, content chunks, a last chunk with `finish_reason`,
    the citations and `usage`, then `data: [DONE]`. A failure mid-stream is an `error`
    object."""
    yield chunk(head, {"role": "assistant", "content": ""})
    try:
        for event in events:
            if event.answer is None:
                yield chunk(head, {"content": event.text})
                continue
            answer = event.answer
            extra = {"usage": count(answer.answer)} if count else {}
            yield chunk(head, {}, "stop", citations=[c.to_dict() for c in answer.citations],
                        abstained=answer.abstained, generator=answer.generator, **extra)
    except RagmemError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
    yield "data: [DONE]\n\n"
