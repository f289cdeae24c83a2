"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from rag.retrieval.base import RetrieverName


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CollectionCreate(Strict):
    name: str = Field(..., examples=["docs"])


class CollectionOut(BaseModel):
    name: str
    embedder: str
    dim: int
    documents: int = 0
    chunks: int = 0


class CollectionList(BaseModel):
    collections: list[CollectionOut]


class DocumentIn(Strict):
    text: str
    title: str | None = None
    id: str | int | None = None
    metadata: dict[str, Any] | None = None


class DocumentsIn(Strict):
    documents: list[DocumentIn] = Field(..., min_length=1)


class DocumentStatus(BaseModel):
    id: str
    status: Literal["created", "updated", "duplicate"]


class IngestAccepted(BaseModel):
    job_id: str | None
    documents: list[DocumentStatus]


class DocumentOut(BaseModel):
    id: str
    title: str
    source: str
    content_hash: str
    metadata: dict[str, Any]
    created: float
    chars: int
    chunks: int
    status: Literal["pending", "indexed"]
    text: str | None = None


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class JobProgress(BaseModel):
    done: int
    total: int


class JobOut(BaseModel):
    id: str
    kind: str
    collection: str | None
    status: Literal["queued", "running", "done", "failed"]
    progress: JobProgress
    error: str | None


class RetrieveRequest(Strict):
    query: str = Field(..., min_length=1)
    retriever: RetrieverName | None = Field(None, examples=["hybrid"])
    top_k: int | None = Field(None, ge=1)


class RetrievedChunk(BaseModel):
    """A span of a document: chunk, document, title, text, char offsets, score."""

    chunk_id: int
    document_id: str
    title: str
    text: str
    start: int
    end: int
    score: float


class RetrieveResponse(BaseModel):
    results: list[RetrievedChunk]
    retrieval: dict[str, Any]


class AskRequest(Strict):
    question: str = Field(..., min_length=1)
    retriever: RetrieverName | None = None
    top_k: int | None = Field(None, ge=1)
    generator: str | None = Field(None, description="extractive, vllm, openai or local "
                                  "[default: settings]", examples=["extractive"])
    stream: bool = Field(False, description="answer as Server-Sent Events: `token` events, "
                         "then `citations`, then `done`")
    session_id: str | None = Field(None, description="add this session's memory (core, "
                                   "archival, recalled messages) and append the turn to it; a "
                                   "session created with a collection asks only that one (409)")
    document_id: str | None = Field(None, description="answer over this one document through "
                                    "its memory blocks instead of chunk retrieval")

    @model_validator(mode="after")
    def _one_memory_mode(self) -> AskRequest:
        if self.session_id is not None and self.document_id is not None:
            raise ValueError("give session_id or document_id, not both")
        return self


class CitationOut(RetrievedChunk):
    """A cited span: the same fields as a retrieved chunk (offsets are the sentence's)."""


class IndexingOut(BaseModel):
    """Documents of the collection not yet searchable, and the jobs indexing them."""

    pending_documents: int
    jobs: list[str]


class AskResponse(BaseModel):
    answer: str
    citations: list[CitationOut]
    abstained: bool
    generator: str
    retrieval: dict[str, Any]
    indexing: IndexingOut | None = Field(None, description="set while documents of the "
                                         "collection are still being indexed (the answer may "
                                         "be among them); an abstention then says so")
    supporting_text: str | None = Field(None, description="extractive generator with a short "
                                 "answer ('Cork [1]'): the cited sentences it was read from "
                                 "('... buried in Cork. [1]'); absent when the answer is the "
                                 "sentences themselves or an LLM's text")

    @model_serializer(mode="wrap")
    def _indexing_only_when_pending(self, handler: SerializerFunctionWrapHandler):  # noqa: ANN202
        data = handler(self)  # no return annotation: the documented schema stays the model's
        for key in ("indexing", "supporting_text"):  # optional keys appear only when set
            if data.get(key) is None:
                data.pop(key, None)
        return data


class Health(BaseModel):
    status: Literal["ok"]
    collections: int


class ErrorBody(BaseModel):
    detail: str


class BenchmarkRequest(Strict):
    dataset: str = Field(..., description="A dataset name in the server's datasets folder",
                         examples=["hotpotqa_train_100"])
    retrievers: list[str] = Field(["bm25", "dense", "hybrid"], min_length=1)
    k: list[int] = Field([1, 2, 5, 10], min_length=1)
    limit: int | None = Field(None, ge=1, description="only the first N questions")
    split: str = "test"


class BenchmarkAccepted(BaseModel):
    id: str
    status: str


class BenchmarkOut(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str
    progress: JobProgress
    result: dict[str, Any] | None
    error: str | None


class DatasetList(BaseModel):
    datasets: dict[str, dict[str, str]]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (the text parts of a multi-part content)."""
        if isinstance(self.content, list):
            return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat-completions request; `model` names a collection. Other OpenAI fields
    are accepted and ignored; `retriever`, `top_k` and `generator` are ragmem's own."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(..., description="the collection to answer from", examples=["docs"])
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    retriever: str | None = None
    top_k: int | None = Field(None, ge=1)
    generator: str | None = None


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatChoiceMessage
    finish_reason: Literal["stop", "length"] = "stop"


class ChatUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage = ChatUsage()
    citations: list[CitationOut]
    abstained: bool
    generator: str


# -- sessions and memory (/v1/sessions) --------------------------------------------------

Role = Literal["system", "user", "assistant", "tool"]


class SessionCreate(Strict):
    name: str = ""
    collection: str | None = Field(None, description="the collection the session asks by default")
    metadata: dict[str, Any] = Field(default_factory=dict)


class SessionCounts(BaseModel):
    messages: int
    core: int
    archival: int


class SessionOut(BaseModel):
    id: str
    name: str
    created_at: float
    collection: str | None
    metadata: dict[str, Any]
    counts: SessionCounts | None = None


class SessionList(BaseModel):
    sessions: list[SessionOut]


class MessageIn(Strict):
    role: Role
    content: str = Field(..., min_length=1)


class MessagesIn(Strict):
    messages: list[MessageIn] = Field(..., min_length=1)


class MessageOut(BaseModel):
    session_id: str
    seq: int
    role: str
    content: str
    created_at: float


class MessageList(BaseModel):
    messages: list[MessageOut]


class ContextPiece(BaseModel):
    tier: Literal["core", "archival", "recall"]
    kind: str = Field(..., description="core, archival, or for recall: sink, block, local")
    source: str = Field(..., description="core, archival:<id> or message:<seq>")
    start: int = Field(..., description="char offset in the source record")
    end: int
    tokens: int
    score: float | None
    text: str


class ContextOut(BaseModel):
    session_id: str
    query: str
    text: str
    n_tokens: int
    budget: int
    notes: list[str]
    core: dict[str, str]
    pieces: list[ContextPiece]


class CoreOut(BaseModel):
    core: dict[str, str]


class CoreIn(Strict):
    core: dict[str, str]


class CoreValueIn(Strict):
    value: str = Field(..., min_length=1)


class ArchivalIn(Strict):
    text: str = Field(..., min_length=1)


class ArchivalOut(BaseModel):
    id: int
    text: str
    created_at: float


class MemoryHitOut(BaseModel):
    tier: Literal["archival", "recall"]
    id: int = Field(..., description="archival record id, or message seq")
    text: str
    score: float
    start: int = Field(..., description="best block's char offsets in the record")
    end: int


class MemoryHitList(BaseModel):
    results: list[MemoryHitOut]
