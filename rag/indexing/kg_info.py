"""The knowledge graph's settings, build report and LLM (for OpenIE), from the service's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from indexes.kg import KGSettings
from rag.errors import InvalidInputError
from rag.settings import GraphSettings


def build_info(passages: int, seconds: float, openie_s: float,
               counts: Any) -> dict[str, Any]:
    """Times of a graph build: OpenIE (fresh extractions only) and the graph itself."""
    extracted = int(counts.get("extracted", 0))
    graph_s = max(seconds - openie_s, 1e-9)
    info: dict[str, Any] = {
        "passages": passages, "build_s": round(seconds, 2), "openie_s": round(openie_s, 2),
        "openie_extracted": extracted, "openie_cached": int(counts.get("cached", 0)),
        "graph_s": round(graph_s, 2), "graph_passages_per_s": round(passages / graph_s, 2)}
    if extracted:
        info["openie_passages_per_s"] = round(extracted / max(openie_s, 1e-9), 2)
    return info


def kg_settings(graph: GraphSettings) -> KGSettings:
    """The graph index's settings from the service's: every `GraphSettings` field is a
    `KGSettings` field of the same name (checked by a test), so a new knob reaches it."""
    values = graph.model_dump()
    values["prefer_sources"] = tuple(values["prefer_sources"])
    return KGSettings(**values)


class GeneratorJSON:
    """`generate_json(prompt, schema)` of an LLM started on first call (`JSONGenerator`).

    Lets the knowledge graph take the service's LLM for OpenIE without starting it
    before a graph is built.

    Args:
        start: returns the loaded LLM (anything with `generate_json`), or None when the
            configured generator has no JSON output.
    """

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start = start

    def generate_json(self, prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
        """The LLM's JSON answer to `prompt`.

        Raises:
            InvalidInputError: when the configured generator has no JSON output.
        """
        llm = self._start()
        if llm is None:
            raise InvalidInputError("the configured generator has no JSON output for OpenIE")
        return llm.generate_json(prompt, schema)
