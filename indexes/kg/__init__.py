"""HippoRAG-style knowledge-graph index (Gutiérrez et al. 2024; 2025, "From RAG to Memory")."""

from indexes.kg.cache import OpenIECache
from indexes.kg.index import MODES, KGSettings, KnowledgeGraphIndex
from indexes.kg.openie import (
    JSONGenerator,
    LLMOpenIE,
    OpenIEExtractor,
    OpenIEResult,
    SpacyOpenIE,
    read_hipporag_openie,
)

__all__ = [
    "MODES",
    "JSONGenerator",
    "KGSettings",
    "KnowledgeGraphIndex",
    "LLMOpenIE",
    "OpenIECache",
    "OpenIEExtractor",
    "OpenIEResult",
    "SpacyOpenIE",
    "read_hipporag_openie",
]
