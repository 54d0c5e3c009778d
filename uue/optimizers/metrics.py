"""Optimizer metrics: one contract, `metric(example, pred, trace=None) -> float | bool`.

Each metric is a small class: `evaluate(example, pred)` gives a `Scored` (score in [0, 1] and a
feedback sentence); calling it returns the score, or, while an optimizer traces demos
(`trace is not None`), whether the prediction is good enough to become a demo: score >=
`pass_score` *and* valid on the first attempt (a retried call leaves its rejected answer in the
trace, and that answer must not become a demo). `GEPAFeedback(metric)` turns any of them into the
`dspy.Prediction(score=, feedback=)` metric GEPA asks for. `get_config_dict()` is logged to MLflow.

Metrics that call the teacher (`SummaryJudge`, `NegativeHardness`) use the LM in `dspy.settings`;
embedder metrics take any `DenseEmbedder` (the base MiniLM by default, loaded on first use).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dspy
import numpy as np

from uue.programs.judge import Judge

PASS_F1 = 0.8  # a bootstrapped cluster demo may miss or add little


@dataclass(frozen=True)
class Scored:
    score: float
    feedback: str


def first_try(pred: Any) -> bool:
    return int(getattr(pred, "attempts", 1) or 1) <= 1


def _f(value: float) -> str:
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


# -- clustering ----------------------------------------------------------------------------------


def f1_parts(predicted: Sequence[int], reference: Sequence[int]) -> tuple[float, float, float]:
    """(precision, recall, F1) of predicted indices against reference indices, as sets."""
    got, want = set(predicted), set(reference)
    hits = len(got & want)
    if not hits:
        return 0.0, 0.0, 0.0
    precision, recall = hits / len(got), hits / len(want)
    return precision, recall, 2 * precision * recall / (precision + recall)


class ClusterF1(Metric):
    """F1 of `pred.related` against the pivot's thread (`reference="thread"`) or subreddit
    (`"community"`) in `example.case` (a `ReferenceCase`). No cluster scores 0."""

    def __init__(self, reference: str = "thread", pass_score: float = PASS_F1):
        if reference not in ("thread", "community"):
            raise ValueError(f"reference must be 'thread' or 'community', not {reference!r}")
        self.reference, self.pass_score = reference, pass_score
        self.name = "cluster_f1" if reference == "thread" else "cluster_f1_loose"

    def evaluate(self, example: dspy.Example, pred: dspy.Prediction) -> Scored:
        case = example.case
        reference = list(getattr(case, self.reference))
        what = "thread" if self.reference == "thread" else "subreddit"
        if not getattr(pred, "has_cluster", True) or not pred.related:
            why = f" (failure: {pred.failure})" if getattr(pred, "failure", None) else ""
            return Scored(
                0.0,
                f"No cluster was returned{why}. The pivot [{case.pivot}] shares its {what} with "
                f"activities {reference}: they should be the cluster.",
            )
        precision, recall, f1 = f1_parts(pred.related, reference)
        missed = sorted(set(reference) - set(pred.related))
        extra = sorted(set(pred.related) - set(reference))
        parts = [f"F1 {_f(f1)} (precision {_f(precision)}, recall {_f(recall)})."]
        if missed:
            parts.append(f"Missed {missed}: same {what} as the pivot, they belong in the cluster.")
        if extra:
            parts.append(f"Wrongly included {extra}: other {what}s, unrelated to the pivot.")
        if not missed and not extra:
            parts.append("Exactly the reference cluster.")
        return Scored(f1, " ".join(parts))

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "reference": self.reference}


# -- summary quality -----------------------------------------------------------------------------


class SummaryJudge(Metric):
    """The judge's score (mean of faithfulness and specificity) of `pred.specific` against the
    predicted cluster's activities; an empty prediction scores 0."""

    name = "summary_judge"

    def __init__(self, judge: Judge | None = None, budget: int = 512, pass_score: float = 0.5):
        self.judge = judge or Judge()
        self.budget, self.pass_score = budget, pass_score

    def evaluate(self, example: dspy.Example, pred: dspy.Prediction) -> Scored:
        label = (getattr(pred, "specific", "") or "").strip()
        if not label or not pred.related:
            return Scored(0.0, "No label was written, so there is nothing to judge.")
        grade = self.judge(activities=example.case.members_text(pred.related, self.budget), label=label)
        if math.isnan(grade.score):
            return Scored(0.0, f"The judge gave no valid grade ({grade.failure}).")
        return Scored(
            grade.score,
            f"Judge score {_f(grade.score)}: faithfulness {_f(grade.faithfulness)}, "
            f"specificity {_f(grade.specificity)}. {grade.reason}",
        )

    def get_config_dict(self) -> dict[str, Any]:
        return {**super().get_config_dict(), "budget": self.budget}


def default_embedder():
    from uue.eval.embedders import make_embedder

    return make_embedder("minilm")


class _Embeddings:
    """Normalised vectors of texts, computed once per text."""

    def __init__(self, embedder=None):
        self._embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def __call__(self, texts: Sequence[str]) -> np.ndarray:  # [n, d]
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.embedder.encode_documents(missing), strict=True):
                self._cache[text] = vector
        return np.stack([self._cache[t] for t in texts])  # [n, d]


class SummaryRetrieval(Metric):
    """Does `pred.specific` retrieve its own reference cluster (the pivot's thread) among
    `distractors` reference clusters of other users in `pool`? Score: 1 / rank (1.0 = first)."""

    name = "summary_retrieval"

    def __init__(
        self, pool: Sequence[Any], embedder=None, distractors: int = 9, seed: int = 0, budget: int = 512
    ):
        self.pool = list(pool)  # ReferenceCases (e.g. the valset's): the other users' clusters
        self.embed = _Embeddings(embedder)
        self.distractors, self.seed, self.budget = distractors, seed, budget
        self.pass_score = 1.0

    def evaluate(self, example: dspy.Example, pred: dspy.Prediction) -> Scored:
        case = example.case
        label = (getattr(pred, "specific", "") or "").strip()
        if not label:
            return Scored(0.0, "No label was written, so it retrieves nothing.")
        others = sorted({c.user_id: c for c in self.pool if c.user_id != case.user_id}.items())
        rng = random.Random(f"{self.seed}:{case.user_id}")
        chosen = [c for _, c in rng.sample(others, min(self.distractors, len(others)))]
        documents = [case.members_text(case.thread, self.budget)] + [
            c.members_text(c.thread, self.budget) for c in chosen
        ]
        query = self.embed([label])  # [1, d]
        scores = (self.embed(documents) @ query.T)[:, 0]  # [n_docs, d] @ [d, 1] -> [n_docs]
        rank = 1 + int((scores[1:] > scores[0]).sum())
        feedback = f"The label ranks its own cluster {rank} of {len(documents)}."
        if rank > 1:
            best = chosen[int(np.argmax(scores[1:]))]
            feedback += (
                f" It is closer to another user's cluster about {best.title!r}: name what is specific."
            )
        return Scored(1.0 / rank, feedback)

    def get_config_dict(self) -> dict[str, Any]:
        return {
            **super().get_config_dict(),
            "distractors": self.distractors,
            "seed": self.seed,
            "embedder": getattr(self.embed._embedder, "name", "minilm"),
        }


# -- negative hardness ---------------------------------------------------------------------------


class NegativeHardness(Metric):
    """A hard negative is close to the context yet wrong for the user.

    Closeness: the share of the other candidates that the chosen negative beats in embedder cosine
    to `example.context` (1.0 with no other candidate). Wrongness: the judge's faithfulness of the
    negative against the context is below `max_faithfulness` (otherwise it is a likely positive and
    scores 0). Score: closeness when wrong, else 0.
    """

    name = "negative_hardness"

    def __init__(self, embedder=None, judge: Judge | None = None, max_faithfulness: float = 0.5):
        self.embed = _Embeddings(embedder)
        self.judge = judge or Judge()
        self.max_faithfulness = max_faithfulness
        self.pass_score = 0.5

    def evaluate(self, example: dspy.Example, pred: dspy.Prediction) -> Scored:
        index = getattr(pred, "negative", None)
        candidates = list(example.candidates)
        if index is None or not 0 <= index < len(candidates):
            why = f" (failure: {pred.failure})" if getattr(pred, "failure", None) else ""
            return Scored(0.0, f"No negative was chosen{why}.")
        chosen = candidates[index]
        others = [c for i, c in enumerate(candidates) if i != index]
        context = self.embed([example.context])  # [1, d]
        sims = (self.embed([chosen, *others]) @ context.T)[:, 0]  # [1 + n_others]
        closeness = float(((sims[1:] < sims[0]) + 0.5 * (sims[1:] == sims[0])).mean()) if others else 1.0
        grade = self.judge(activities=example.context, label=chosen)
        if math.isnan(grade.faithfulness):
            return Scored(0.0, f"The judge gave no valid grade of the negative ({grade.failure}).")
        if grade.faithfulness >= self.max_faithfulness:
            return Scored(
                0.0,
                f"The negative {chosen!r} is supported by the user's activities (faithfulness "
                f"{_f(grade.faithfulness)}): it is a likely positive, not a negative.",
            )
        return Scored(
            closeness,
            f"The negative {chosen!r} is judged wrong for the user (faithfulness "
            f"{_f(grade.faithfulness)}) and is closer to the context than {_f(closeness)} of the "
            "other candidates.",
        )

    def get_config_dict(self) -> dict[str, Any]:
        return {
            **super().get_config_dict(),
            "max_faithfulness": self.max_faithfulness,
            "embedder": getattr(self.embed._embedder, "name", "minilm"),
        }


# -- the judge itself ----------------------------------------------------------------------------


class JudgeAgreement(Metric):
    """For compiling the judge: 1 - |pred.score - example.target| (target 1 for a thread's own
    title, 0 for another user's). A missing grade scores 0."""

    name = "judge_agreement"

    def evaluate(self, example: dspy.Example, pred: dspy.Prediction) -> Scored:
        score = pred.score
        if score is None or math.isnan(score):
            return Scored(0.0, f"No valid grade ({getattr(pred, 'failure', None)}).")
        agreement = 1.0 - abs(score - float(example.target))
        truth = "supported by" if example.target >= 0.5 else "unrelated to"
        return Scored(agreement, f"The label is {truth} the activities; the grade was {_f(score)}.")
