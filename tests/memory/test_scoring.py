"""Score fusion and top-k selection (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from memory.scoring import block_max, fuse, top_blocks

pytestmark = pytest.mark.unit


def test_block_max_takes_best_representative():
    out = block_max(np.array([0, 0, 2]), np.array([0.1, 0.7, 0.3]), 4)
    assert out[0] == pytest.approx(0.7) and out[2] == pytest.approx(0.3)
    assert np.isneginf(out[1]) and np.isneginf(out[3])


@pytest.mark.parametrize("method", ["rrf", "sum"])
def test_fusion_rewards_agreement(method):
    dense = np.array([0.9, 0.2, 0.5, -np.inf], dtype=np.float32)
    lexical = np.array([0.0, 1.0, 3.0, 0.0], dtype=np.float32)
    fused = fuse(dense, lexical, method=method)
    assert int(np.argmax(fused)) == 2
    assert fused[3] == min(fused)


def test_fusion_validates():
    with pytest.raises(ValueError, match="method"):
        fuse(np.zeros(2), np.zeros(2), method="max")
    with pytest.raises(ValueError, match="shape"):
        fuse(np.zeros(2), np.zeros(3))


def test_top_blocks_order_and_exclusion():
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    assert top_blocks(scores, 2) == [1, 3]
    assert top_blocks(scores, 2, exclude=np.array([False, True, False, False])) == [3, 2]
    assert top_blocks(scores, 0) == []
    assert top_blocks(np.array([-np.inf, 1.0]), 5) == [1]
