"""HippoRAG-style knowledge-graph index (Gutiérrez et al. 2024; 2025, "From RAG to Memory")."""

from indexes.kg.cache import OpenIECache
from indexes.kg.hipporag_files import HippoRAGDoc, match_hipporag_docs, read_hipporag_docs, read_hipporag_openie
from indexes.kg.index import KnowledgeGraphIndex
from indexes.kg.openie import JSONGenerator, LLMOpenIE, OpenIEExtractor, OpenIEResult, SpacyOpenIE
from indexes.kg.settings import MODE_CHOICES, MODES, RICH_SOURCES, KGSettings

__all__ = [
    "MODES",
    "MODE_CHOICES",
    "RICH_SOURCES",
    "HippoRAGDoc",
    "JSONGenerator",
    "KGSettings",
    "KnowledgeGraphIndex",
    "LLMOpenIE",
    "OpenIECache",
    "OpenIEExtractor",
    "OpenIEResult",
    "SpacyOpenIE",
    "match_hipporag_docs",
    "read_hipporag_docs",
    "read_hipporag_openie",
]
