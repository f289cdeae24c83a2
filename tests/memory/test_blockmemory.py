"""BlockMemory: build, search, context, persistence (hash encoder) and a real needle (MiniLM)."""

from __future__ import annotations

import random

import pytest

from memory.assembly import AssemblyConfig
from memory.blockmemory import BlockMemory
from memory.cache import BlockCache
from memory.tokens import HFTokenCounter, RegexTokenCounter

WORDS = "river stone garden window paper market winter bridge candle forest letter".split()


def haystack(n_sentences: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    return " ".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."
        for _ in range(n_sentences)
    )


def with_needle(text: str, needle: str, depth: float) -> tuple[str, int]:
    pos = text.find(". ", int(len(text) * depth)) + 2
    return text[:pos] + needle + " " + text[pos:], pos


def make(store, encoder, **kwargs) -> BlockMemory:
    kwargs.setdefault("counter", RegexTokenCounter())
    kwargs.setdefault("config", AssemblyConfig(n_init=32, n_local=64, top_k=4, block_tokens=32))
    return BlockMemory(store, "doc", encoder=encoder, **kwargs).open()


@pytest.mark.unit
def test_exact_key_is_found_and_offsets_point_into_source(store, hash_encoder):
    needle = "The vault code is 7f3a9c21-55aa-4e1b-9d0c-123456789abc."
    text, pos = with_needle(haystack(400), needle, 0.4)
    memory = make(store, hash_encoder)
    memory.add("doc-1", text)
    hit = memory.search("What is the vault code 7f3a9c21-55aa-4e1b-9d0c-123456789abc?", k=1)[0]
    assert hit.start <= pos < hit.end and hit.source == "doc-1"
    ctx = memory.context("vault code 7f3a9c21-55aa-4e1b-9d0c-123456789abc", budget=200)
    assert needle in ctx.text()
    assert ctx.n_tokens <= 200
    for piece in ctx.pieces:
        assert text[piece.start : piece.end] == piece.text


@pytest.mark.unit
def test_reopen_from_disk_mmap_and_rebuild(store, hash_encoder):
    text, _ = with_needle(haystack(300), "Passkey 48213 opens the door.", 0.6)
    memory = make(store, hash_encoder)
    ids = memory.add("doc", text)
    before = memory.search("passkey 48213", k=3)
    reopened = make(store, hash_encoder, mmap=True, cache=BlockCache(4096))
    assert reopened.search("passkey 48213", k=3) == before
    assert reopened.stats()["index_mmap"] and reopened.stats()["cache"]["bytes"] <= 4096
    store.faiss_path(memory.info.id).unlink()
    rebuilt = make(store, hash_encoder)
    assert len(rebuilt) == len(ids) and rebuilt.search("passkey 48213", k=3) == before
    more = reopened.add("doc-2", "A second source about passkey 99999.")
    assert more == [len(ids)]


@pytest.mark.unit
def test_empty_memory_and_zero_budget(store, hash_encoder):
    memory = make(store, hash_encoder)
    assert memory.search("anything", k=3) == []
    assert memory.context("anything", budget=100).pieces == ()
    memory.add("doc", "Some text.")
    assert memory.context("anything", budget=0).n_tokens == 0
    with pytest.raises(ValueError):
        memory.search("x", k=0)


@pytest.mark.integration
def test_needle_found_with_minilm(store, embedder):
    needle = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day."
    base = haystack(1500)
    memory_names = []
    for depth in (0.1, 0.5, 0.8):
        text, _ = with_needle(base, needle, depth)
        name = f"doc-{depth}"
        memory = BlockMemory(store, name, encoder=embedder, counter=HFTokenCounter(embedder.tokenizer))
        memory.open().add(name, text)
        memory_names.append(name)
        ctx = memory.context("What is the best thing to do in San Francisco?", budget=1024)
        assert needle in ctx.text(), depth
        assert ctx.n_tokens <= 1024


@pytest.mark.unit
def test_document_memory_is_built_once_per_version(store, hash_encoder):
    from memory.longdoc import document_context, open_document_memory

    text = haystack(200) + " The launch code is 4471."
    kwargs = {"collection": "c", "document_id": 7, "encoder": hash_encoder, "counter": RegexTokenCounter()}
    first = open_document_memory(store, text=text, **kwargs)
    again = open_document_memory(store, text=text, **kwargs)
    assert len(first) == len(again) > 0 and first.name == again.name
    edited = open_document_memory(store, text=text + " More.", **kwargs)
    assert edited.name != first.name
    ctx = document_context(again, "launch code 4471", budget=300)
    assert "4471" in ctx.text() and all(p.source == "document:7" for p in ctx.pieces)
