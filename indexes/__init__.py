"""Search indexes behind one protocol: dense (FAISS), BM25, knowledge graph (HippoRAG).

This is the lowest floor: it imports nothing from `memory`, `rag`, `api` or `eval`.
"""

from indexes.base import Chunk, Hit, Index, Retriever

__all__ = ["Chunk", "Hit", "Index", "Retriever"]
