"""Calibration of CRAG's evaluator: logistic fit, thresholds, the stored crag.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.retrieval.context import CalibrationError, RetrievalContext, load_calibration, save_calibration
from rag.retrieval.crag.calibration import (
    Sample,
    choose_thresholds,
    fit_logistic,
    lower_threshold,
    rate_below,
    upper_threshold,
)

pytestmark = pytest.mark.unit


def test_fit_logistic_separates_noisy_classes():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0.7, 0.1, (60, 1)), rng.normal(0.3, 0.1, (60, 1))])
    y = np.array([1] * 60 + [0] * 60)
    weights, bias = fit_logistic(x, y)
    p = 1 / (1 + np.exp(-(x @ weights + bias)))
    assert weights[0] > 0 and ((p > 0.5) == y).mean() > 0.9
    with pytest.raises(ValueError, match="both"):
        fit_logistic(x, np.ones(120))


def test_thresholds_on_fixed_scores():
    best = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    assert lower_threshold(best, answer_rate=0.9) == 0.1  # 9 of 10 at or above
    assert lower_threshold(best, answer_rate=1.0) == 0.05
    assert rate_below(best, 0.1) == pytest.approx(0.1)
    # gold precision >= 2/3 holds down to 0.6 (2 of 3 gold), not to 0.4
    assert upper_threshold([0.9, 0.8, 0.6, 0.4], [1, 0, 1, 0], precision=0.66, floor=0.1) == (
        pytest.approx(0.6, abs=1e-5))
    assert upper_threshold([0.9], [0], precision=0.5, floor=0.2) == 1.0 - 1e-6
    with pytest.raises(ValueError):
        lower_threshold([], answer_rate=0.9)


def _sample(cos: list[float], labels: list[int]) -> Sample:
    return Sample([{"cosine": c, "bm25": 0.0, "entities": 0.0} for c in cos], labels)


def test_choose_thresholds_reports_rates():
    positives = [_sample([0.8, 0.4], [1, 0]), _sample([0.7, 0.3], [1, 0]),
                 _sample([0.6, 0.5], [0, 1]), _sample([0.9, 0.2], [1, 0])]
    negatives = [_sample([0.2, 0.1], [0, 0]), _sample([0.35], [0])]
    cal = choose_thresholds(positives, negatives, answer_rate=0.75)
    assert 0 <= cal["lower"] <= cal["upper"] <= 1
    assert cal["fit"]["answered"] >= 0.75
    assert cal["fit"]["negatives_abstained"] == 1.0
    assert cal["weights"]["cosine"] > 0


def test_calibration_file_round_trip(tmp_path):
    folder = tmp_path / "collections" / "c"
    path = save_calibration(folder, {"weights": {"cosine": 5.0}, "bias": -2.0, "upper": 0.6,
                                     "lower": 0.2})
    assert path == folder / "crag.json"
    data = load_calibration(folder)
    assert data["lower"] == 0.2 and data["version"] == 1
    assert RetrievalContext.for_collection(None, folder).calibration["upper"] == 0.6
    assert load_calibration(tmp_path) == {}
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(CalibrationError, match="version"):
        load_calibration(folder)
    path.write_text("{not json")
    with pytest.raises(CalibrationError, match="unreadable"):
        load_calibration(folder)


def test_evidence_calibration_keeps_the_answer_rate_and_abstains_on_the_negatives():
    from rag.retrieval.crag.calibration import choose_evidence_thresholds
    from rag.retrieval.evidence import EvidenceSignals, EvidenceThresholds

    defaults = EvidenceThresholds()
    own = [EvidenceSignals(0.5, 0.9)] * 19 + [EvidenceSignals(0.3, 0.5)]  # scores 2.4 x19, 1.4
    other = [EvidenceSignals(0.3, 0.2)] * 10  # score 1.1
    fit = choose_evidence_thresholds(own, other, defaults, answer_rate=0.95)
    assert fit["fit"]["answered"] >= 0.95 and fit["fit"]["negatives_abstained"] == 1.0
    assert 1.1 < fit["score"] <= 2.4 and fit["weight"] == defaults.weight
    strict = choose_evidence_thresholds(own, [], defaults, answer_rate=0.95)
    assert strict["score"] == 2.4 and strict["fit"]["negatives_abstained"] is None
    every = choose_evidence_thresholds(own, [], defaults, answer_rate=1.0)
    assert every["score"] == 1.4
    with pytest.raises(ValueError):
        choose_evidence_thresholds([], other, defaults)
