import math

import numpy as np
import pytest

from uue.eval.bench import ModelResult, verdict
from uue.eval.metrics import (
    BENCH_METRICS,
    Estimate,
    RankedPrediction,
    bootstrap_ci,
    ndcg_at,
    paired_differences,
    per_query,
    ranks_of_target,
    recall_at,
    reciprocal_rank,
)


def test_ranks_are_pessimistic_and_respect_the_mask():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.2, 0.1], [0.1, 0.9, 0.8]])
    assert ranks_of_target(scores, np.array([0, 0, 0])).tolist() == [0, 1, 2]  # tie counts above
    valid = np.array([[1, 1, 1], [1, 1, 1], [1, 0, 1]], dtype=bool)
    assert ranks_of_target(scores, np.array([0, 0, 0]), valid).tolist() == [0, 1, 1]


def test_metrics_match_hand_computed_values():
    ranks = np.array([0, 1, 4, 12])
    values = per_query(ranks)
    assert values["recall@1"].tolist() == [1, 0, 0, 0]
    assert values["recall@5"].tolist() == [1, 1, 1, 0]
    assert values["mrr"] == pytest.approx([1, 1 / 2, 1 / 5, 1 / 13])
    assert values["ndcg@10"] == pytest.approx([1, 1 / math.log2(3), 1 / math.log2(6), 0])
    assert set(values) == set(BENCH_METRICS)


def test_metrics_share_the_project_signature():
    pred = RankedPrediction(rank=2)
    assert recall_at(3)({"q": "x"}, pred) == 1.0 and recall_at(2)({"q": "x"}, pred, trace=None) == 0.0
    assert reciprocal_rank(None, pred) == pytest.approx(1 / 3)
    assert ndcg_at(10)(None, pred) == pytest.approx(0.5)


def test_bootstrap_ci_contains_the_mean_and_is_deterministic():
    values = np.random.default_rng(1).random(200)
    a, b = bootstrap_ci(values, seed=7), bootstrap_ci(values, seed=7)
    assert a == b
    assert a.ci_low <= a.mean <= a.ci_high and a.mean == pytest.approx(values.mean())
    assert a.ci_high - a.ci_low < 0.2
    assert bootstrap_ci(np.ones(5)) == Estimate(1.0, 1.0, 1.0)


def _result(name: str, r1: float, baseline: bool = True) -> ModelResult:
    est = {"recall@1": Estimate(r1, r1, r1)}
    return ModelResult(name, baseline, est, {}, np.zeros(1), np.zeros(1))


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([_result("bm25", 0.3), _result("minilm", 0.85)], "red flag"),
        ([_result("bm25", 0.3), _result("minilm", 0.79)], "ok"),
        ([_result("bm25", 0.8)], "red flag"),  # threshold is inclusive
        ([_result("bm25", 0.3), _result("student", 0.95, baseline=False)], "ok"),  # trained models never flag
        ([_result("student", 0.95, baseline=False)], "no baseline"),
    ],
)
def test_verdict(results, expected):
    decision = verdict(results, threshold=0.8)
    assert decision["verdict"] == expected


def test_paired_differences_are_per_query_means():
    trained, baseline = np.array([0, 0, 1, 3]), np.array([0, 2, 1, 0])  # 0-based ranks
    diff = paired_differences(trained, baseline, resamples=200, seed=0)
    assert diff["recall@1"].mean == pytest.approx((1 + 1 + 0 + 0 - (1 + 0 + 0 + 1)) / 4)
    assert diff["mrr"].mean == pytest.approx(((1 + 1 + 1 / 2 + 1 / 4) - (1 + 1 / 3 + 1 / 2 + 1)) / 4)
    same = paired_differences(baseline, baseline, resamples=200, seed=0)["mrr"]
    assert same.mean == same.ci_low == same.ci_high == 0.0
