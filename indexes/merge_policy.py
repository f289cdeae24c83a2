"""Which segments to merge: a tiered policy (after Lucene's), as a pure function.

Segments are grouped into tiers by live size: tier 0 below `floor_rows`, then one tier
per factor of `factor` above it. A tier holding `factor` segments or more is merged
(smallest tier first), so each row is rewritten about once per tier: log_factor(N)
times in all, and a collection holds at most about `factor - 1` segments per tier.
A segment whose tombstoned share exceeds `max_deleted` is rewritten on its own to drop
them. One merge is planned at a time; the caller asks again after it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MergePolicy:
    """Knobs of the tiered policy (see the module docstring)."""

    factor: int = 10
    floor_rows: int = 1000
    max_deleted: float = 0.3

    def __post_init__(self) -> None:
        if self.factor < 2 or self.floor_rows < 1 or not 0 < self.max_deleted <= 1:
            raise ValueError(f"need factor >= 2, floor_rows >= 1, 0 < max_deleted <= 1: {self}")


def tier(live_rows: int, policy: MergePolicy) -> int:
    """The tier of a segment with `live_rows` live rows."""
    if live_rows < policy.floor_rows:
        return 0
    return 1 + int(math.floor(math.log(live_rows / policy.floor_rows, policy.factor) + 1e-9))


def plan_merge(segments: Sequence[tuple[int, int]], policy: MergePolicy) -> list[int]:
    """Positions of the segments to merge next, or [] when none should be.

    Args:
        segments: (rows, tombstoned rows) of each segment, in any order.
        policy: the knobs.
    """
    tiers: dict[int, list[int]] = {}
    for position, (rows, deleted) in enumerate(segments):
        if rows < 0 or not 0 <= deleted <= rows:
            raise ValueError(f"segment {position}: need 0 <= deleted <= rows, got {rows}, {deleted}")
        tiers.setdefault(tier(rows - deleted, policy), []).append(position)
    for level in sorted(tiers):
        members = tiers[level]
        if len(members) >= policy.factor:
            # the smallest `factor` of the tier: the cheapest merge that empties it enough
            members = sorted(members, key=lambda p: segments[p][0] - segments[p][1])
            return sorted(members[:policy.factor])
    for position, (rows, deleted) in enumerate(segments):
        if rows and (deleted == rows or deleted / rows > policy.max_deleted):
            return [position]
    return []
