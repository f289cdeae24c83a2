"""One settings object, read once from `RAGMEM_*` environment variables (and `.env`).

Nested groups use `__`: `RAGMEM_INDEX__EMBEDDER=/models/bge`, `RAGMEM_LIMITS__MAX_TOP_K=50`.
Components receive their group or plain arguments, never the whole object.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class IndexSettings(BaseModel):
    """Embedder and index parameters (pinned per collection at creation)."""

    embedder: str = "all-MiniLM-L6-v2"
    device: str = "cpu"
    batch_size: int = Field(64, ge=1, le=4096)
    bm25_k1: float = Field(1.5, ge=0)
    bm25_b: float = Field(0.75, ge=0, le=1)
    torch_threads: int | None = Field(None, ge=1, description="torch intra-op threads for the "
                                      "embedder (1 helps query latency on a busy CPU); None: torch's default")
    embedder_backend: str = Field("torch", pattern="^(torch|onnx|onnx-int8)$",
                                  description="torch (sentence-transformers), onnx (ONNX Runtime, "
                                  "the same vectors) or onnx-int8 (dynamic int8: vectors of its own "
                                  "name); ONNX files are cached under <models_dir>/embedder-onnx; "
                                  "torch_threads also sets ONNX Runtime's intra-op threads")
    # Segments (rag/indexing/collection.py): HNSW above a size, tiered merges in the background.
    ann_threshold: int = Field(50_000, ge=1, description="segments of this many chunks or "
                               "more are searched through FAISS HNSW instead of exactly")
    hnsw_m: int = Field(32, ge=4, le=256, description="HNSW neighbours per node")
    hnsw_ef_construction: int = Field(200, ge=8, description="HNSW build-time beam")
    hnsw_ef_search: int = Field(256, ge=8, description="HNSW search beam (recall vs latency; "
                                "bench scale at 100K: 128 -> recall@10 0.83, 256 -> 0.94)")
    merge_factor: int = Field(10, ge=2, description="segments per tier before they merge")
    merge_floor_rows: int = Field(1000, ge=1, description="segments below this size share tier 0")
    merge_max_deleted: float = Field(0.3, gt=0, le=1, description="a segment with a larger "
                                     "tombstoned share is rewritten")
    background_merges: bool = Field(True, description="merge on a background thread after "
                                    "syncs (off: only `ragmem index merge`)")
    # Replicas (issue 14, rag/indexing/follow.py): a follower's look at the indexer's manifest.
    follow_interval_s: float = Field(0.2, ge=0, description="replicas that do not index a "
                                     "collection look for a new manifest (one stat) at most "
                                     "this often, on their queries")
    # Ray (issue 15, rag/ingest/ray_engine.py): large index jobs embed on a Ray cluster.
    engine: str = Field("local", pattern="^(local|ray)$", description="ray: index jobs of "
                        "ray_threshold chunks or more embed in a Ray actor pool (extra: ray)")
    ray_address: str | None = Field(None, description="auto, host:port or ray://...; None: "
                                    "ray.init() starts a local cluster")
    ray_workers: int = Field(1, ge=1, description="embedding actors (one model load each)")
    ray_gpus_per_worker: float = Field(0.0, ge=0, description="GPUs per actor (>0: CUDA, "
                                       "the stream path)")
    ray_threshold: int = Field(10_000, ge=0, description="chunks of a job at or above which "
                               "it goes to Ray; smaller jobs stay local")


class GraphSettings(BaseModel):
    """The HippoRAG-style knowledge graph (built per collection on first `hipporag` use)."""

    mode: str = Field("auto", pattern="^(auto|entity|hipporag1|hipporag2|hybrid)$",
                      description="seeding: question entities (offline), v1 linking, v2 facts, "
                                  "hybrid (entities + facts); auto: hybrid when most passages "
                                  "have imported or LLM triples, else entity")
    damping: float = Field(0.5, ge=0, lt=1, description="PPR damping (HippoRAG 2: 0.5)")
    synonymy_threshold: float = Field(0.8, ge=0, le=1)
    dense_prior_weight: float = Field(0.05, ge=0, description="passage dense score x weight")
    title_seed_weight: float = Field(1.0, ge=0, description="restart weight of passages titled "
                                     "by a phrase the question names exactly (0: off)")
    prefer_sources: list[str] = Field(["import"], description="OpenIE sources preferred "
                                      "over the offline extractor when cached")
    # issue 17 (indexes.kg.hops); the index's KGSettings has the same defaults
    max_hops: int = Field(2, ge=1, le=4, description="PPR walks: 1 = HippoRAG's single walk; "
                          "more seed bridge entities of the top passage(s) again")
    hop_passages: int = Field(1, ge=1, description="top passages mined for bridge entities")
    hop_entities: int = Field(3, ge=0, description="bridge entities per hop")
    hop_decay: float = Field(0.5, gt=0, le=1, description="restart weight of hop n: decay^n")
    comparison: bool = Field(True, description="'..., X or Y?': keep each named entity's best "
                             "passage in the first evidence_window hits")
    evidence_window: int = Field(5, ge=0, description="hits the comparison slots live in")
    title_aliases: bool = Field(True, description="'Name (disambiguator)' titles also title "
                                "their passage as 'Name' (takes effect when the graph is built)")


class ChunkSettings(BaseModel):
    """Sentence-aware chunking, in characters."""

    size: int = Field(1000, ge=50)
    overlap: int = Field(150, ge=0)


class FusionSettings(BaseModel):
    """RAG-Fusion (`fusion`): variants x indexes, weighted RRF."""

    index_weights: dict[str, float] = Field(
        {"bm25": 1.0, "dense": 1.0, "hipporag": 1.0},
        description="indexes to search and their RRF weights (absent indexes are skipped)")
    rrf_k: int = Field(60, ge=0)
    candidates: int = Field(50, ge=1, description="hits per variant and index")
    source: str = Field("auto", pattern="^(auto|offline|llm)$",
                        description="auto: LLM variants when a generator is injected")
    variants: int = Field(4, ge=0, le=16, description="LLM variants (RAG-Fusion uses 4)")
    llm_weight: float = Field(1.0, ge=0)
    prf_docs: int = Field(3, ge=1, description="RM3 feedback passages")
    prf_terms: int = Field(8, ge=0, description="RM3 expansion terms (0 turns PRF off)")
    prf_weight: float = Field(0.5, ge=0)
    hops: int = Field(2, ge=0, le=2, description="IRCoT-style bridge hops")
    bridge_passages: int = Field(3, ge=1, description="first-hop passages mined for entities")
    bridge_entities: int = Field(3, ge=1, description="bridge queries per hop")
    bridge_weight: float = Field(0.5, ge=0, description="weight of hop-1 queries (hop 2: half)")


class CragSettings(BaseModel):
    """CRAG (`crag`): evaluator weights and thresholds (a collection's crag.json wins)."""

    weights: dict[str, float] = Field(
        {"cosine": 8.0, "bm25": 0.3, "entities": 2.0},
        description="logistic weights of the evaluator features")
    bias: float = -6.0
    upper: float = Field(0.5, ge=0, le=1, description="Correct when a chunk scores above")
    lower: float = Field(0.1, ge=0, le=1, description="Incorrect when every chunk scores below")
    graded: int = Field(5, ge=1, description="top chunks the evaluator grades")
    strip_threshold: float = Field(0.25, ge=0, le=1, description="strips kept at or above")
    fallback: list[str] = Field(["bm25", "hipporag", "fusion"],
                                description="retrievers asked with the keyword rewrite")


class EvidenceSettings(BaseModel):
    """The evidence check of every answer (`rag.retrieval.evidence`): abstain when the top
    passages neither hold the question's terms nor are close to it in meaning (a
    collection's crag.json `evidence` block, from `ragmem calibrate`, wins)."""

    enabled: bool = Field(True, description="off: answer whatever is retrieved")
    cosine: float = Field(0.2, ge=0, le=1, description="cosine floor: with every question "
                          "term found in the top passages, answer at or above it")
    coverage: float = Field(0.6, ge=0, le=1, description="with no dense index: answer at or "
                            "above this IDF-weighted share of the question's terms found")
    weight: float = Field(3.0, ge=0, le=10, description="the cosine's weight in the score")
    score: float = Field(1.8, ge=0, description="answer when coverage + weight x best cosine "
                         "of the top passages reaches it")
    strong_cosine: float = Field(0.75, ge=0, le=1, description="answer at or above this "
                                 "cosine whatever the coverage (a paraphrase)")
    passages: int = Field(3, ge=1, description="top passages the check reads")


class RouterSettings(BaseModel):
    """Adaptive-RAG (`adaptive`): single-step (hybrid) or multi-step (fusion) per query."""

    level_hops: dict[int, int] = Field(
        {1: 1, 2: 2}, description="bridge hops of the multi-step route per complexity level")
    verify_depth: int = Field(5, ge=0, description="single-step is kept when its top N "
                              "passages mention every entity the question names, else the "
                              "question goes to level 1 (0: no check)")


class RetrievalSettings(BaseModel):
    """Default retriever and fusion parameters."""

    retriever: str = "hybrid"
    top_k: int = Field(5, ge=1)
    rrf_k: int = Field(60, ge=0)
    hybrid_weights: dict[str, float] = {"bm25": 1.0, "dense": 1.0}
    candidates: int = Field(50, ge=1, description="hits taken from each index before fusion")
    fusion: FusionSettings = FusionSettings()
    crag: CragSettings = CragSettings()
    router: RouterSettings = RouterSettings()
    evidence: EvidenceSettings = EvidenceSettings()


class OpenAISettings(BaseModel):
    """An OpenAI-compatible server (`vllm serve`, ...) for the `openai` generator."""

    base_url: str = Field("http://127.0.0.1:8001/v1", description="up to and including /v1")
    api_key: SecretStr = SecretStr("")
    model: str | None = Field(None, description="None: the first model the server lists")
    timeout: float = Field(120.0, gt=0, description="seconds per request")
    tokenizer: str | None = Field(None, description="a local tokenizer folder or model name "
                                  "for exact token budgets; None: the server's /tokenize, "
                                  "else an estimate")


class GenerationSettings(BaseModel):
    """Answer generation: the default generator and the LLM backends' model and limits."""

    generator: str = Field("extractive", description="extractive, vllm, openai or local")
    max_sentences: int = Field(3, ge=1, le=20)
    model: str = Field("smollm2", description="a prepared model name (under models_dir) "
                       "or a model folder")
    models_dir: Path | None = Field(None, description="prepared models; None: <data_dir>/models")
    dtype: str = Field("bfloat16", description="vLLM weights dtype (auto, bfloat16, float16, float32)")
    local_dtype: str = Field("float32", description="the local (transformers) backend's dtype")
    max_model_len: int = Field(2048, ge=256, description="context length the engine allows")
    max_tokens: int = Field(256, ge=1, description="answer length cap")
    max_context_tokens: int = Field(1536, ge=64, description="token budget for passages")
    temperature: float = Field(0.0, ge=0)
    enforce_eager: bool = Field(True, description="vLLM: no graph capture (faster start)")
    kv_cache_gb: int = Field(1, ge=1, description="vLLM CPU: KV cache size (VLLM_CPU_KVCACHE_SPACE)")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="vLLM GPU memory share")
    openai: OpenAISettings = OpenAISettings()


class LimitSettings(BaseModel):
    """Input limits; requests over them get a 4xx (413, 422 or 429), never a 500."""

    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1, description="one uploaded file")
    max_upload_request_bytes: int = Field(256 * 1024 * 1024, ge=1,
                                          description="a whole multipart request")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1,
                                description="any other request body (JSON)")
    max_json_depth: int = Field(64, ge=1, description="nesting of a JSON body")
    max_query_chars: int = Field(4000, ge=1)
    max_top_k: int = Field(100, ge=1)
    max_documents_per_request: int = Field(10_000, ge=1)
    max_concurrent_jobs_per_key: int = Field(4, ge=1, description="queued or running jobs "
                                             "(uploads, benchmarks) per API key")


class AuthSettings(BaseModel):
    """API keys (`ragmem keys ...`), sent as `Authorization: Bearer rgm_...`."""

    mode: str = Field("auto", pattern="^(auto|on|off)$", description="auto: on unless "
                      "the server binds to a loopback address (127.0.0.1, ::1)")


class StoreSettings(BaseModel):
    """The database (rag/storage/backend.py): the SQLite file in the data dir, or PostgreSQL."""

    url: str = Field("", description="empty: <data_dir>/ragmem.sqlite3; postgresql://user:pw@host/db "
                     "(the postgres extra; several replicas may share it) or sqlite:///path")
    pool_size: int = Field(10, ge=1, le=1000, description="PostgreSQL connections per process "
                           "at most")


class MemorySettings(BaseModel):
    """Long-context memory: InfLLM block shape, block cache, session and document budgets."""

    block_tokens: int = Field(128, ge=8, description="B, tokens per memory block")
    reps: int = Field(4, ge=1, le=15, description="representative vectors per block")
    n_init: int = Field(128, ge=0, description="sink tokens (start of the memory)")
    n_local: int = Field(4096, ge=0, description="local window tokens (end of the memory)")
    top_k: int = Field(16, ge=1, description="relevant blocks per lookup")
    budget: int = Field(4096, ge=1, description="default context budget in tokens")
    max_budget: int = Field(131072, ge=1, description="largest budget a request may ask for")
    ask_budget: int | None = Field(None, ge=64, description="tokens of memory handed to the "
                                   "generator by ask; None: generation.max_context_tokens")
    archival_k: int = Field(3, ge=0, description="archival hits in a session context")
    cache_mb: int = Field(64, ge=1, description="hot block cache (texts and vectors), MiB")
    max_content_chars: int = Field(1_000_000, ge=1, description="longest message or passage")


class Settings(BaseSettings):
    """Everything configurable, in one place."""

    model_config = SettingsConfigDict(
        env_prefix="RAGMEM_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Path("./ragmem-data")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    datasets_dir: Path = Path("../shared/datasets")
    index: IndexSettings = IndexSettings()
    graph: GraphSettings = GraphSettings()
    chunking: ChunkSettings = ChunkSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    generation: GenerationSettings = GenerationSettings()
    limits: LimitSettings = LimitSettings()
    auth: AuthSettings = AuthSettings()
    memory: MemorySettings = MemorySettings()
    store: StoreSettings = StoreSettings()


def offline_environment() -> None:
    """Forbid model-hub downloads for this process (HF_HUB_OFFLINE semantics).

    This is the one place that writes the environment: huggingface libraries read these
    variables at import time, so they must be set before the first model import.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
