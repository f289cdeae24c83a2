"""Streaming answers (SSE) and the OpenAI-compatible /v1/chat/completions, with the
extractive generator, so they run in normal CI; the openai client is used when installed."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.api.conftest import upload_json

pytestmark = pytest.mark.integration

DOCS = [
    {"id": "eiffel", "title": "Eiffel Tower",
     "text": "The Eiffel Tower is a lattice tower in Paris. It is named after the engineer "
             "Gustave Eiffel, whose company designed and built it."},
    {"id": "berlin", "title": "Berlin", "text": "Berlin is the capital and largest city of Germany."},
]
QUESTION = "Who is the Eiffel Tower named after?"


@pytest.fixture
def filled(client, collection) -> str:
    upload_json(client, collection, DOCS)
    return collection


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event, data) pairs of an SSE body; data-only events are named "message"."""
    events = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            data = fields["data"]
            events.append((fields.get("event", "message"),
                           {"done": True} if data == "[DONE]" else json.loads(data)))
    return events


def test_ask_streams_tokens_then_citations_then_done(client, filled):
    whole = client.post(f"/v1/collections/{filled}/ask", json={"question": QUESTION}).json()
    response = client.post(f"/v1/collections/{filled}/ask",
                           json={"question": QUESTION, "stream": True, "generator": "extractive"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"token"} and len(names) > 2
    tokens = "".join(data["text"] for name, data in events if name == "token")
    cited, done = events[-2][1], events[-1][1]
    assert tokens == done["answer"] == whole["answer"]
    assert "Gustave Eiffel" in tokens
    assert cited["citations"] == whole["citations"] and cited["generator"] == "extractive"
    assert cited["abstained"] is False and cited["retrieval"]["top_k"] == 5


def test_ask_names_the_generator_and_rejects_unknown_ones(client, filled):
    answer = client.post(f"/v1/collections/{filled}/ask",
                         json={"question": QUESTION, "generator": "extractive"}).json()
    assert answer["generator"] == "extractive" and answer["citations"]
    for stream in (False, True):
        response = client.post(f"/v1/collections/{filled}/ask",
                               json={"question": QUESTION, "generator": "gpt-9", "stream": stream})
        assert response.status_code == 422 and "unknown generator" in response.json()["detail"]
    response = client.post(f"/v1/collections/{filled}/ask", json={"question": " ", "stream": True})
    assert response.status_code == 422  # validated before the stream opens


def test_chat_completions_answers_from_the_collection_named_by_model(client, filled):
    body = {"model": filled, "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "What is the capital of Germany?"},
        {"role": "assistant", "content": "Berlin."},
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        "temperature": 0.2, "max_tokens": 50}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["object"] == "chat.completion" and data["model"] == filled
    assert data["id"].startswith("chatcmpl-")
    message = data["choices"][0]["message"]
    assert message["role"] == "assistant" and "Gustave Eiffel" in message["content"]
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["citations"][0]["document_id"] == "eiffel" and data["generator"] == "extractive"


def test_chat_completions_streams_openai_chunks(client, filled):
    body = {"model": filled, "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    events = [data for _, data in sse_events(response)]
    assert events[-1] == {"done": True}
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "Gustave Eiffel" in text
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["citations"]
    assert last["citations"][0]["document_id"] == "eiffel"


def test_chat_completions_errors(client, filled):
    missing = client.post("/v1/chat/completions",
                          json={"model": "no-such-collection", "messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 404
    no_user = client.post("/v1/chat/completions",
                          json={"model": filled, "messages": [{"role": "system", "content": "x"}]})
    assert no_user.status_code == 422 and "user message" in no_user.json()["detail"]
    assert client.post("/v1/chat/completions", json={"model": filled, "messages": []}).status_code == 422


def test_the_openai_client_talks_to_chat_completions(server, client, filled):
    openai = pytest.importorskip("openai")
    chat = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    reply = chat.chat.completions.create(model=filled, messages=[{"role": "user", "content": QUESTION}])
    assert "Gustave Eiffel" in reply.choices[0].message.content
    assert reply.model_extra["citations"][0]["document_id"] == "eiffel"
    pieces, last = [], None
    for part in chat.chat.completions.create(model=filled, stream=True,
                                             messages=[{"role": "user", "content": QUESTION}]):
        pieces.append(part.choices[0].delta.content or "")
        last = part
    assert "".join(pieces) == reply.choices[0].message.content
    assert last.choices[0].finish_reason == "stop" and last.model_extra["citations"]


def test_chat_completions_count_usage_tokens(client, filled):
    body = {"model": filled, "messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": QUESTION}]}
    data = client.post("/v1/chat/completions", json=body).json()
    usage = data["usage"]
    # "be brief" + the question: at least one token a word; the answer quotes the passage
    assert usage["prompt_tokens"] >= len("be brief".split()) + len(QUESTION.split())
    assert usage["completion_tokens"] >= len(data["choices"][0]["message"]["content"].split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    streamed = client.post("/v1/chat/completions", json={**body, "stream": True})
    last = [d for _, d in sse_events(streamed)][-2]
    assert last["usage"] == usage  # same messages, same (extractive) answer


def test_the_openai_client_reads_usage(server, client, filled):
    openai = pytest.importorskip("openai")
    chat = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    reply = chat.chat.completions.create(model=filled, messages=[{"role": "user", "content": QUESTION}])
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
