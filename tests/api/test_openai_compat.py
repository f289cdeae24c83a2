"""GET /v1/models and POST /v1/embeddings (with /v1/chat/completions) through real OpenAI
clients: the official `openai` package and LangChain's `langchain-openai`, pointed at a
real uvicorn server on loopback."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from tests.api.conftest import upload_json

pytestmark = pytest.mark.integration

openai = pytest.importorskip("openai")

DOCS = [
    {"id": "eiffel", "title": "Eiffel Tower",
     "text": "The Eiffel Tower is a lattice tower in Paris. It is named after the engineer "
             "Gustave Eiffel, whose company designed and built it."},
    {"id": "berlin", "title": "Berlin", "text": "Berlin is the capital and largest city of Germany."},
]
QUESTION = "Who is the Eiffel Tower named after?"
TEXTS = ["Gustave Eiffel built a tower.", "Berlin is in Germany.", "Tides follow the Moon."]


@pytest.fixture
def filled(client, collection) -> str:
    upload_json(client, collection, DOCS)
    return collection


@pytest.fixture
def oai(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)


def test_models_lists_each_collection_in_openai_shape(client, collection, oai):
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    mine = [m for m in body["data"] if m["id"] == collection]
    assert len(mine) == 1
    assert mine[0]["object"] == "model" and mine[0]["owned_by"] == "ragmem"
    assert isinstance(mine[0]["created"], int) and mine[0]["created"] > 0
    names = {c["name"] for c in client.get("/v1/collections").json()["collections"]}
    assert {m["id"] for m in body["data"]} == names
    listed = [m for m in oai.models.list() if m.id == collection]
    assert len(listed) == 1 and listed[0].owned_by == "ragmem"
    assert oai.models.retrieve(collection).id == collection
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("no-such-collection")


def test_embeddings_match_the_collections_embedder(collection, oai, embedder):
    expected = embedder.encode(TEXTS)
    many = oai.embeddings.create(model=collection, input=TEXTS)  # the client asks for base64
    assert many.model == collection and [d.index for d in many.data] == [0, 1, 2]
    got = np.array([d.embedding for d in many.data], dtype=np.float32)
    assert got.shape == (3, embedder.dim)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert many.usage.prompt_tokens == many.usage.total_tokens > len(TEXTS)
    one = oai.embeddings.create(model=collection, input=TEXTS[0], encoding_format="float")
    assert len(one.data) == 1
    np.testing.assert_allclose(one.data[0].embedding, expected[0], atol=1e-5)
    assert one.usage.prompt_tokens == embedder.count_tokens(TEXTS[0])


def test_embeddings_raw_shapes_and_errors(client, collection, embedder):
    body = client.post("/v1/embeddings", json={"model": collection, "input": "hello world"}).json()
    assert body["object"] == "list" and body["data"][0]["object"] == "embedding"
    assert len(body["data"][0]["embedding"]) == embedder.dim
    assert body["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    packed = client.post("/v1/embeddings", json={"model": collection, "input": ["hello world"],
                                                 "encoding_format": "base64"}).json()
    vector = np.frombuffer(base64.b64decode(packed["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(vector, body["data"][0]["embedding"], atol=1e-6)
    same_dim = client.post("/v1/embeddings", json={"model": collection, "input": "x",
                                                   "dimensions": embedder.dim})
    assert same_dim.status_code == 200
    cases = [({"model": "no-such-collection", "input": "x"}, 404, "not found"),
             ({"model": collection, "input": []}, 422, "no text"),
             ({"model": collection, "input": ["ok", "  "]}, 422, "input[1] is empty"),
             ({"model": collection, "input": [1, 2, 3]}, 422, "token-array"),
             ({"model": collection, "input": [[1, 2]]}, 422, "token-array"),
             ({"model": collection, "input": "x", "dimensions": 7}, 422, "dimensions"),
             ({"model": collection, "input": "x", "encoding_format": "int8"}, 422, ""),
             ({"input": "x"}, 422, "")]
    for payload, code, words in cases:
        response = client.post("/v1/embeddings", json=payload)
        assert response.status_code == code, (payload, response.text)
        assert words in str(response.json()["detail"]), (payload, response.text)
    surrogate = client.post("/v1/embeddings", content=b'{"model": "%s", "input": "a\\ud800b"}'
                            % collection.encode(), headers={"content-type": "application/json"})
    assert surrogate.status_code == 200, surrogate.text


def test_the_openai_client_chats_whole_and_streamed(filled, oai):
    reply = oai.chat.completions.create(model=filled, messages=[{"role": "user", "content": QUESTION}])
    assert "Gustave Eiffel" in reply.choices[0].message.content
    assert reply.model_extra["citations"][0]["document_id"] == "eiffel"
    pieces = [part.choices[0].delta.content or "" for part in oai.chat.completions.create(
        model=filled, stream=True, messages=[{"role": "user", "content": QUESTION}])]
    assert "".join(pieces) == reply.choices[0].message.content


def test_langchain_openai_chat_and_embeddings(server, filled, embedder):
    lc = pytest.importorskip("langchain_openai")
    chat = lc.ChatOpenAI(base_url=f"{server.url}/v1", api_key="unused", model=filled, max_retries=0)
    message = chat.invoke(QUESTION)
    assert "Gustave Eiffel" in message.content
    streamed = "".join(chunk.content for chunk in chat.stream(QUESTION))
    assert streamed == message.content
    embeddings = lc.OpenAIEmbeddings(base_url=f"{server.url}/v1", api_key="unused", model=filled,
                                     check_embedding_ctx_length=False, max_retries=0)
    np.testing.assert_allclose(embeddings.embed_query(TEXTS[0]), embedder.encode(TEXTS[:1])[0],
                               atol=1e-5)
    docs = embeddings.embed_documents(TEXTS)
    np.testing.assert_allclose(np.array(docs), embedder.encode(TEXTS), atol=1e-5)
