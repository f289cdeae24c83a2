"""More of OpenAI's surface: `GET /v1/models` and `POST /v1/embeddings`.

Each collection is a model (the same name `/v1/chat/completions` takes); an embeddings
request names a collection and is encoded with the embedder that collection is pinned
to, so OpenAI clients (the `openai` package, LangChain's `OpenAIEmbeddings`) can embed
queries the way the collection's dense index does.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import PrincipalDep, ServiceDep, visible_collection
from rag.errors import EmbedderMismatchError, InvalidInputError
from rag.service.core import RagService
from rag.storage.store import CollectionRow

router = APIRouter(prefix="/v1", tags=["openai"])

MAX_INPUTS = 2048  # OpenAI's own limit on inputs per embeddings request
OWNER = "ragmem"


class ModelOut(BaseModel):
    id: str = Field(..., description="a collection name")
    object: Literal["model"] = "model"
    created: int
    owned_by: str = OWNER


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request; `model` names a collection. `user` and other OpenAI
    fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(..., description="the collection whose embedder encodes the input",
                       examples=["docs"])
    input: str | list[str] | list[int] | list[list[int]] = Field(
        ..., description="a text or a list of texts (token arrays are not supported)",
        examples=["What is the Eiffel Tower?"])
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, description="must equal the embedder's dimension")

    @field_validator("input")
    @classmethod
    def _texts_only(cls, value: Any) -> Any:
        if isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
            raise ValueError("token-array input is not supported: send a text or a list of texts")
        return value

    def texts(self) -> list[str]:
        """The input as a list of texts.

        Raises:
            InvalidInputError: for no input, an empty text, or too many inputs.
        """
        texts = [self.input] if isinstance(self.input, str) else list(self.input)
        if not texts:
            raise InvalidInputError("input holds no text")
        if len(texts) > MAX_INPUTS:
            raise InvalidInputError(f"{len(texts)} inputs is over the limit of {MAX_INPUTS}")
        for i, text in enumerate(texts):
            if not text.strip():
                raise InvalidInputError(f"input[{i}] is empty")
        # A lone surrogate (legal as a JSON escape) is not UTF-8, which the tokenizer needs.
        return [t.encode("utf-8", "replace").decode("utf-8") for t in texts]


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(..., description="floats, or base64 of little-endian "
                                         "float32 with encoding_format=base64")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


@router.get("/models", response_model=ModelList)
def list_models(service: ServiceDep, principal: PrincipalDep) -> ModelList:
    """Every collection the caller may see, as an OpenAI model."""
    return ModelList(data=[ModelOut(id=c["name"], created=int(c["created"]))
                           for c in service.store.list_collections()
                           if principal.can_see(c["owner_key_id"])])


@router.get("/models/{model}", response_model=ModelOut)
def get_model(model: str, service: ServiceDep, principal: PrincipalDep) -> ModelOut:
    """One collection as an OpenAI model (404 when absent or not visible)."""
    row = visible_collection(service, principal, model)
    return ModelOut(id=row.name, created=int(row.created))


def pinned_embedder(service: RagService, collection: CollectionRow) -> Any:
    """The loaded embedder, if it is the one `collection` is pinned to.

    Raises:
        EmbedderMismatchError: when the collection was built with another embedder.
    """
    embedder = service.embedder
    if collection.embedder != embedder.name or collection.dim != embedder.dim:
        raise EmbedderMismatchError(
            f"collection {collection.name!r} is pinned to {collection.embedder} (dim "
            f"{collection.dim}) but the service runs {embedder.name} (dim {embedder.dim})")
    return embedder


@router.post("/embeddings", response_model=EmbeddingResponse)
def create_embeddings(body: EmbeddingRequest, service: ServiceDep,
                      principal: PrincipalDep) -> EmbeddingResponse:
    """Encode the input with the embedder of the collection named by `model`."""
    collection = visible_collection(service, principal, body.model)
    texts = body.texts()
    embedder = pinned_embedder(service, collection)
    if body.dimensions is not None and body.dimensions != collection.dim:
        raise InvalidInputError(f"dimensions={body.dimensions}: {collection.name!r} embeds "
                                f"with {collection.dim} dimensions only")
    vectors = np.asarray(embedder.encode(texts), dtype="<f4")
    tokens = sum(len(ids) for ids in embedder.tokenizer(texts, add_special_tokens=False)["input_ids"])
    data = [Embedding(index=i, embedding=base64.b64encode(v.tobytes()).decode("ascii")
                      if body.encoding_format == "base64" else v.tolist())
            for i, v in enumerate(vectors)]
    return EmbeddingResponse(data=data, model=collection.name,
                             usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens))
