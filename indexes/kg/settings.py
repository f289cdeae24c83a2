"""The KG index's settings and retrieval modes (which seeds feed the Personalized PageRank)."""

from __future__ import annotations

from dataclasses import dataclass

# mode -> (entity seeds, n-gram seeds, fact seeds, dense prior)
MODES: dict[str, tuple[bool, bool, bool, bool]] = {
    "entity": (True, True, False, True),
    "hipporag1": (True, False, False, False),
    "hipporag2": (False, False, True, True),
    "hybrid": (True, True, True, True),
}
MODE_CHOICES = ("auto", *MODES)
# OpenIE sources whose triples are good enough for fact seeding (`auto` picks `hybrid`).
RICH_SOURCES = frozenset({"import", "llm"})


def auto_mode(source_counts: dict[str, int]) -> str:
    """``hybrid`` when most passages have LLM or imported triples, else ``entity``."""
    rich = sum(n for source, n in source_counts.items() if source in RICH_SOURCES)
    return "hybrid" if rich * 2 > sum(source_counts.values()) else "entity"


@dataclass(frozen=True)
class KGSettings:
    """Knobs of the KG index (defaults from HippoRAG 2 and our offline measurements)."""

    mode: str = "auto"
    damping: float = 0.5
    synonymy_threshold: float = 0.8
    synonymy_max_neighbors: int = 100
    top_facts: int = 5
    dense_prior_weight: float = 0.05
    dense_prior_top_n: int = 1000
    link_top_k: int = 1
    link_min_similarity: float = 0.5
    ngram_max_len: int = 10
    fact_weight: float = 1.0
    title_seed_weight: float = 1.0
    title_aliases: bool = True  # "Name (disambiguator)" titles the passage as "Name" too
    prefer_sources: tuple[str, ...] = ()
    embed_facts: bool = True
    ppr_tol: float = 1e-10
    ppr_max_iter: int = 100
    # IRCoT-style hops without an LLM (indexes.kg.hops): walks in all, the top passages
    # mined for bridge entities, bridges per hop, their weight per hop, and the score of
    # a bridge none of whose facts resembles the question.
    max_hops: int = 2
    hop_passages: int = 1  # the top passage only: musique_train_100 R@5 0.750 vs 0.732 for 3
    hop_entities: int = 3
    hop_decay: float = 0.5
    hop_min_relevance: float = 0.1
    hop_requery: float = 2.0  # x the dense prior of the question + bridges (0: off)
    # comparison questions ("..., X or Y?"): each named entity's best passage is kept in
    # the first `evidence_window` hits (the reader's window; 0 turns it off).
    comparison: bool = True
    comparison_bridges: bool = True  # and each named entity's best bridge passage
    evidence_window: int = 5

    def __post_init__(self) -> None:
        if self.mode not in MODE_CHOICES:
            raise ValueError(f"mode must be one of {list(MODE_CHOICES)}, got {self.mode!r}")
        if not 0 <= self.damping < 1:
            raise ValueError(f"damping must be in [0, 1), got {self.damping!r}")
        if self.max_hops < 1 or self.hop_passages < 1 or self.hop_entities < 0:
            raise ValueError(f"max_hops and hop_passages must be >= 1 and hop_entities >= 0, "
                             f"got {self.max_hops!r}, {self.hop_passages!r}, "
                             f"{self.hop_entities!r}")
        if not 0 < self.hop_decay <= 1:
            raise ValueError(f"hop_decay must be in (0, 1], got {self.hop_decay!r}")
        if self.top_facts < 1 or self.link_top_k < 1:
            raise ValueError(f"top_facts and link_top_k must be >= 1, got "
                             f"{self.top_facts!r}, {self.link_top_k!r}")
