"""Every graph setting of the service reaches the graph index (issue 17's knobs included)."""

from __future__ import annotations

import dataclasses

import pytest

from indexes.kg import KGSettings
from rag.indexing.manager import kg_settings
from rag.settings import GraphSettings

pytestmark = pytest.mark.unit


def test_every_graph_setting_is_a_kg_setting() -> None:
    kg_fields = {f.name for f in dataclasses.fields(KGSettings)}
    assert set(GraphSettings.model_fields) <= kg_fields


def test_non_default_values_reach_the_graph() -> None:
    graph = GraphSettings(max_hops=1, hop_entities=5, hop_decay=0.25, comparison=False,
                          evidence_window=7, title_aliases=False, damping=0.7,
                          prefer_sources=["spacy"])
    kg = kg_settings(graph)
    assert (kg.max_hops, kg.hop_entities, kg.hop_decay, kg.comparison, kg.evidence_window,
            kg.title_aliases, kg.damping) == (1, 5, 0.25, False, 7, False, 0.7)
    assert kg.prefer_sources == ("spacy",)
