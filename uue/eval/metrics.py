"""Ranking metrics with the project's one metric signature, and bootstrap confidence intervals.

A prediction is the 0-based rank of the target among its candidates. Ranks are pessimistic: a
candidate with exactly the target's score counts as ranked above it, so a constant scorer gets
Recall@1 = 0, not 1. With one relevant candidate per query nDCG@K = 1 / log2(rank + 2) when rank < K.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankedPrediction:
    rank: int  # 0-based rank of the target among the query's candidates


Metric = Callable[..., float]  # metric(example, pred, trace=None) -> float


def recall_at(k: int) -> Metric:
    def recall(example: object, pred: RankedPrediction, trace: object = None) -> float:
        return float(pred.rank < k)

    recall.__name__ = f"recall@{k}"
    return recall


def reciprocal_rank(example: object, pred: RankedPrediction, trace: object = None) -> float:
    return 1.0 / (pred.rank + 1)


def ndcg_at(k: int) -> Metric:
    def ndcg(example: object, pred: RankedPrediction, trace: object = None) -> float:
        return float(1.0 / np.log2(pred.rank + 2)) if pred.rank < k else 0.0

    ndcg.__name__ = f"ndcg@{k}"
    return ndcg


BENCH_METRICS: dict[str, Metric] = {
    "recall@1": recall_at(1),
    "recall@5": recall_at(5),
    "mrr": reciprocal_rank,
    "ndcg@10": ndcg_at(10),
}


def ranks_of_target(scores: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """scores [n, c], target [n] column of the target, valid [n, c] mask of real candidates -> ranks [n]."""
    rows = np.arange(len(scores))
    target_scores = scores[rows, target][:, None]  # [n, 1]
    above = scores >= target_scores  # [n, c], ties pessimistic
    above[rows, target] = False
    if valid is not None:
        above &= valid
    return above.sum(axis=1)


def per_query(
    ranks: np.ndarray, metrics: Mapping[str, Metric] = BENCH_METRICS, examples=None
) -> dict[str, np.ndarray]:
    """Each metric evaluated on every query -> {name: values [n]}."""
    examples = examples if examples is not None else [None] * len(ranks)
    preds = [RankedPrediction(int(r)) for r in ranks]
    return {
        name: np.array([m(e, p) for e, p in zip(examples, preds, strict=True)], dtype=np.float64)
        for name, m in metrics.items()
    }


@dataclass(frozen=True)
class Estimate:
    mean: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high}


def bootstrap_ci(values: np.ndarray, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> Estimate:
    """Mean of `values` with a percentile bootstrap interval (deterministic for a given seed)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))  # [B, n]
    means = values[idx].mean(axis=1)  # [B]
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    mean = float(values.mean())
    return Estimate(mean, float(min(low, mean)), float(max(high, mean)))


def paired_differences(
    trained: np.ndarray, baseline: np.ndarray, resamples: int, seed: int
) -> dict[str, Estimate]:
    """Per metric, the mean of (trained - baseline) over the same queries with a bootstrap interval:
    an interval above 0 means the trained model is better on these queries. Pairing removes the
    query-to-query spread that makes two separate intervals overlap."""
    ours, theirs = per_query(trained, BENCH_METRICS), per_query(baseline, BENCH_METRICS)
    return {name: bootstrap_ci(ours[name] - theirs[name], resamples, seed) for name in ours}
