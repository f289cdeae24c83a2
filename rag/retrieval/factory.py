"""Build a retriever by name over a collection's indexes: the one place names map to classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from indexes.base import Retriever
from rag.errors import InvalidInputError
from rag.retrieval.adaptive import build_adaptive
from rag.retrieval.base import (
    GraphRetriever,
    HybridRetriever,
    IndexRetriever,
    TracingRetriever,
    check_retriever_name,
)
from rag.retrieval.crag.retriever import build_crag
from rag.retrieval.evidence import EvidenceThresholds
from rag.retrieval.evidence_check import EvidenceChecked
from rag.retrieval.fusion import FusionRetriever
from rag.settings import RetrievalSettings


def build_retriever(name: str, indexes: Mapping[str, Retriever], settings: RetrievalSettings,
                    *, context: Any = None) -> TracingRetriever:
    """Make the retriever called `name` over a collection's indexes, with the evidence
    check (`rag.retrieval.evidence_check`) around it unless the settings turn it off.

    Args:
        name: one of `RETRIEVER_NAMES`.
        indexes: the collection's indexes by name ("dense", "bm25", and "hipporag" when the
            collection has a knowledge graph; fusion, crag and adaptive use it when present).
        settings: the retrieval settings group (with its fusion/crag/router sub-groups).
        context: a `rag.retrieval.context.RetrievalContext` (chunk texts, CRAG calibration, LLM) for
            fusion, crag and adaptive; without one they run their text-free paths.

    Raises:
        InvalidInputError: for an unknown name.
    """
    inner = _build(name, indexes, settings, context=context)
    evidence = settings.evidence
    if not evidence.enabled:
        return inner
    calibrated = getattr(context, "calibration", None) or {}
    defaults = EvidenceThresholds.from_mapping(evidence.model_dump())
    return EvidenceChecked(inner, indexes,
                           EvidenceThresholds.from_mapping(calibrated.get("evidence"), defaults),
                           texts=getattr(context, "texts", None), passages=evidence.passages)


def _build(name: str, indexes: Mapping[str, Retriever], settings: RetrievalSettings, *,
           context: Any = None) -> TracingRetriever:
    if name in ("bm25", "dense"):
        return IndexRetriever(name, indexes[name])
    if name == "hybrid":
        parts = {n: indexes[n] for n in settings.hybrid_weights if n in indexes}
        return HybridRetriever(parts, weights=settings.hybrid_weights, rrf_k=settings.rrf_k,
                               candidates=settings.candidates)
    if name == "hipporag":
        if "hipporag" not in indexes:
            raise InvalidInputError("this collection has no knowledge graph yet")
        return GraphRetriever(indexes["hipporag"])
    if name == "fusion":
        return FusionRetriever(indexes, settings.fusion, context=context)
    if name == "crag":
        return build_crag(indexes, settings, context=context)
    if name == "adaptive":
        return build_adaptive(indexes, settings, context=context)
    check_retriever_name(name)
    raise AssertionError(f"retriever {name!r} is named but not built here")
