"""OpenIE: normalization, HippoRAG file import, LLM two-step extraction, spaCy triples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from indexes.base import Chunk
from indexes.errors import IndexFormatError
from indexes.kg.hipporag_files import match_hipporag_docs, read_hipporag_docs, read_hipporag_openie
from indexes.kg.openie import LLMOpenIE, OpenIEResult, normalize_phrase, text_hash

DATA = Path(__file__).resolve().parents[2] / "data" / "kg"


@pytest.mark.unit
@pytest.mark.parametrize("raw, expected", [
    ("  The Beatles' \"Abbey Road\"! ", "the beatles abbey road"),
    ("São Paulo F.C.", "sao paulo f c"),
    ("北京大学", "北京大学"),
    ("--", ""),
])
def test_normalize_phrase(raw: str, expected: str) -> None:
    assert normalize_phrase(raw) == expected


@pytest.mark.unit
def test_result_build_drops_bad_triples_and_round_trips() -> None:
    result = OpenIEResult.build(["Paris", "paris", ""], [["Paris", "capital of", "France"],
                                                        ["Paris", "is", "PARIS"], ["x", "y"]],
                                source="s", titles=["Paris"])
    assert result.entities == ("paris",)
    assert result.triples == (("paris", "capital of", "france"),)
    assert result.phrases() == ["paris", "france"]
    assert OpenIEResult.from_json(result.to_json()) == result


@pytest.mark.unit
def test_read_hipporag_file() -> None:
    results = read_hipporag_openie(DATA / "hipporag_openie_tiny.json")
    key = text_hash("Toronto\nToronto is the capital of Ontario.")
    assert key in results and len(results) == 2
    toronto = results[key]
    assert toronto.triples == (("toronto", "capital of", "ontario"),)  # malformed ones dropped
    assert toronto.titles == ("toronto",) and toronto.source == "import"
    chunk = Chunk(1, "Toronto is the capital of Ontario.", "Toronto")
    assert text_hash(chunk.indexed_text) == key


@pytest.mark.unit
def test_read_hipporag_rejects_other_formats(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"documents": []}')
    with pytest.raises(IndexFormatError):
        read_hipporag_openie(bad)
    bad.write_text("not json")
    with pytest.raises(IndexFormatError):
        read_hipporag_openie(bad)


class ScriptedGenerator:
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def generate_json(self, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        self.prompts.append(prompt)
        if "named_entities" in schema["properties"]:
            return {"named_entities": ["Marie Curie", "Warsaw"]}
        return {"triples": [["Marie Curie", "born in", "Warsaw"], "junk"]}


@pytest.mark.unit
def test_llm_two_step_extraction() -> None:
    gen = ScriptedGenerator()
    [result] = LLMOpenIE(gen).extract([Chunk(1, "Marie Curie was born in Warsaw.", "Curie")])
    assert result.entities == ("marie curie", "warsaw")
    assert result.triples == (("marie curie", "born in", "warsaw"),)
    assert result.source == "llm" and result.titles == ("curie",)
    assert len(gen.prompts) == 2 and '"Marie Curie"' in gen.prompts[1]
    assert LLMOpenIE(gen).query_entities("Where was Marie Curie born?") == [
        "marie curie", "warsaw"]


@pytest.mark.integration
def test_spacy_extracts_entities_and_triples() -> None:
    from indexes.kg.openie import SpacyOpenIE

    extractor = SpacyOpenIE()
    [result] = extractor.extract([Chunk(
        1, "Barack Obama was born in Honolulu. He married Michelle Robinson in 1992.",
        "Barack Obama")])
    assert {"barack obama", "honolulu", "michelle robinson"} <= set(result.entities)
    assert ("barack obama", "born in", "honolulu") in result.triples
    # the pronoun subject resolves to the title
    assert ("barack obama", "married", "michelle robinson") in result.triples
    assert result.titles == ("barack obama",)
    assert "barack obama" in extractor.query_entities("Where was Barack Obama born?")


@pytest.mark.unit
def test_match_hipporag_docs_like_hipporag() -> None:
    docs = read_hipporag_docs(DATA / "hipporag_openie_tiny.json")
    assert [d.title for d in docs] == ["Lake Ontario", "Toronto"]
    chunks = [
        Chunk(1, "Toronto is the capital of Ontario.", "Toronto"),  # exact passage
        Chunk(2, "Lake Ontario  borders the province of Ontario and the state of New York.",
              "Lake Ontario"),  # title and text, other whitespace
        Chunk(3, "Toronto is the capital of Ontario.", "Toronto (city)"),  # text only
        Chunk(4, "Lima is the capital of Peru.", "Lima"),  # not in the file
    ]
    pairs, unmatched = match_hipporag_docs(docs, chunks)
    assert unmatched == 0
    by_chunk = {cid: (h, r) for cid, h, r in pairs}
    assert set(by_chunk) == {1, 2}  # an exact match wins over the text-only one
    assert by_chunk[2][0] == text_hash(chunks[1].indexed_text)  # keyed by the chunk's text
    assert by_chunk[2][1].source == "import" and by_chunk[2][1].titles == ("lake ontario",)
    pairs, unmatched = match_hipporag_docs(docs, chunks[2:])
    assert [cid for cid, _, _ in pairs] == [3] and unmatched == 1
    assert pairs[0][2].titles == ("toronto city",)  # the chunk's own title
