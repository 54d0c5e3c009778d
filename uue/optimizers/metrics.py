"""Optimizer metrics: one contract, `metric(example, pred, trace=None) -> float | bool`.

Each metric is a small class: `evaluate(example, pred)` gives a `Scored` (score in [0, 1] and a
feedback sentence); calling it returns the score, or, while an optimizer traces demos
(`trace is not None`), whether the prediction is good enough to become a demo: score >=
`pass_score` *and* valid on the first attempt (a retried call leaves its rejected answer in the
trace, and that answer must not become a demo). `GEPAFeedback(metric)` turns any of them into the
`dspy.Prediction(score=, feedback=)` metric GEPA asks for. `get_config_dict()` is logged to MLflow.

This module holds what every metric shares. The metrics themselves live beside the behaviour they
score (`uue.programs.pivot`, `negatives`, `judge`) and are listed in its `Compilable`. Metrics that
call the teacher use the LM in `dspy.settings`; embedder metrics take any `DenseEmbedder` (the base
MiniLM by default, loaded on first use).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dspy
import numpy as np


@dataclass(frozen=True)
class Scored:
    score: float
    feedback: str


def first_try(pred: Any) -> bool:
    return int(getattr(pred, "attempts", 1) or 1) <= 1


def two_decimals(value: float) -> str:
    """A score as feedback text shows it."""
    return f"{value:.2f}"


class Metric:
    """Base class: subclasses set `name`, `pass_score` and implement `evaluate`."""

    name = "metric"
    primary_metric = "score"
    greater_is_better = True
    pass_score = 0.5

    def evaluate(self, example: dspy.Example, pred: dspy.Prediction) -> Scored:
        raise NotImplementedError

    def __call__(self, example: dspy.Example, pred: dspy.Prediction, trace=None) -> float | bool:
        scored = self.evaluate(example, pred)
        if trace is None:
            return scored.score
        return scored.score >= self.pass_score and first_try(pred)

    def get_config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "pass_score": self.pass_score}


class GEPAFeedback:
    """GEPA's metric: the wrapped metric's score with its feedback text."""

    def __init__(self, metric: Metric):
        self.metric = metric
        self.name = f"{metric.name}+feedback"

    def __call__(self, gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
        scored = self.metric.evaluate(gold, pred)
        return dspy.Prediction(score=scored.score, feedback=scored.feedback)

    def get_config_dict(self) -> dict[str, Any]:
        return {**self.metric.get_config_dict(), "feedback": True}


def f1_parts(predicted: Sequence[int], reference: Sequence[int]) -> tuple[float, float, float]:
    """(precision, recall, F1) of predicted indices against reference indices, as sets."""
    got, want = set(predicted), set(reference)
    hits = len(got & want)
    if not hits:
        return 0.0, 0.0, 0.0
    precision, recall = hits / len(got), hits / len(want)
    return precision, recall, 2 * precision * recall / (precision + recall)


def default_embedder():
    from uue.eval.embedders import make_embedder

    return make_embedder("minilm")


class Embeddings:
    """Normalised vectors of texts, computed once per text; the embedder loads on first use."""

    def __init__(self, embedder=None):
        self._embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    @property
    def embedder_name(self) -> str:
        """For `get_config_dict`: the given or loaded embedder's name ("minilm" before the default loads)."""
        return getattr(self._embedder, "name", "minilm")

    def __call__(self, texts: Sequence[str]) -> np.ndarray:  # [n, d]
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.embedder.encode_documents(missing), strict=True):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts])  # [n, d]
