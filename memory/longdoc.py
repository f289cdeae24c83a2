"""Long-document mode: one block memory per document, built on first use.

`ragmem ask --document ID` answers over one long document through memory blocks instead
of chunk retrieval: the caller (rag) passes the document's text; the memory is named by
collection, document id and content hash, so an edited document gets a fresh memory.
"""

from __future__ import annotations

import hashlib

from memory.assembly import AssembledContext, AssemblyConfig
from memory.blockmemory import BlockMemory
from memory.cache import BlockCache
from memory.encoding import TextEncoder
from memory.store import MemoryStore
from memory.tokens import TokenCounter


def document_memory_name(collection: str, document_id: str | int, text: str) -> str:
    """The memory name of a document version: `document:<collection>:<id>:<sha1[:12]>`."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    return f"document:{collection}:{document_id}:{digest}"


def open_document_memory(
    store: MemoryStore,
    *,
    collection: str,
    document_id: str | int,
    text: str,
    encoder: TextEncoder,
    counter: TokenCounter,
    encoder_name: str = "encoder",
    config: AssemblyConfig = AssemblyConfig(),
    cache: BlockCache | None = None,
    mmap: bool = True,
) -> BlockMemory:
    """Open the block memory of one document version, building it if it is new.

    Args:
        store: Where memories live.
        collection: The document's collection.
        document_id: The document's id.
        text: The document's full text (block offsets point into it).
        encoder: Embeds representative spans and queries.
        counter: Counts tokens the way the generator does.
        encoder_name: Pinned with the memory.
        config: Context shape (InfLLM defaults).
        cache: A shared block cache (one per service bounds RAM across documents).
        mmap: Memory-map an existing FAISS file instead of reading it into RAM.

    Returns:
        The opened memory; its blocks' `source` is `document:<id>`.
    """
    memory = BlockMemory(
        store,
        document_memory_name(collection, document_id, text),
        encoder=encoder,
        counter=counter,
        encoder_name=encoder_name,
        kind="document",
        config=config,
        cache=cache,
        mmap=mmap,
    ).open()
    if len(memory) == 0 and text.strip():
        memory.add(f"document:{document_id}", text)
    return memory


def document_context(memory: BlockMemory, query: str, *, budget: int) -> AssembledContext:
    """Sinks (title, opening) + the top-k blocks for `query` + the document's end, in budget."""
    return memory.context(query, budget=budget)
