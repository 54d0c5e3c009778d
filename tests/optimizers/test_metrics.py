"""Metrics on hand-made cases with known answers: exact F1 values, bool while tracing, feedback text.

The shared contract is `uue.optimizers.metrics`; the metrics are the behaviours' own (pivot, negatives,
judge), tested here on the same cases."""

from __future__ import annotations

import json

import dspy
import numpy as np
import pytest

from tests.programs.conftest import make_history
from uue.datasets.render import Segment
from uue.optimizers.metrics import GEPAFeedback, f1_parts
from uue.optimizers.references import ReferenceCase
from uue.programs.judge import JudgeAgreement
from uue.programs.negatives import NegativeHardness
from uue.programs.pivot import ClusterF1, SummaryJudge, SummaryRetrieval
from uue.programs.scripted import replies, scripted_lm


def case(user="alice", thread=(0, 2, 4), community=(0, 2, 3, 4), title="Secured credit cards", texts=None):
    texts = texts or [("personalfinance", f"activity {i}") for i in range(5)]
    history = make_history(user, texts)
    return ReferenceCase(Segment(user, history.activities, "segment"), 4, thread, community, title)


def example(reference_case):
    return dspy.Example(
        segment=reference_case.segment, clustered=[], pivot=4, case=reference_case
    ).with_inputs("segment", "clustered", "pivot")


def cluster(related, attempts=1, failure=None):
    return dspy.Prediction(
        has_cluster=bool(related),
        related=related,
        specific="x",
        broad="y",
        failure=failure,
        attempts=attempts,
    )


class WordEmbedder:
    """Bag of words over a fixed vocabulary: cosines with known answers."""

    name = "words"
    vocabulary = ["credit", "card", "secured", "bike", "tires", "tomato", "garden", "python", "list"]

    def encode_documents(self, texts):
        rows = np.array(
            [[text.lower().split().count(w) + 1e-3 for w in self.vocabulary] for text in texts], dtype=float
        )  # [n, vocab]
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    encode_queries = encode_documents


def test_f1_exact_values():
    assert f1_parts([0, 2, 3], [0, 2, 4]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert f1_parts([4], [0, 2, 4]) == pytest.approx((1.0, 1 / 3, 0.5))
    assert f1_parts([1, 3], [0, 2, 4]) == (0.0, 0.0, 0.0)
    assert f1_parts([4, 2, 0], [0, 2, 4]) == (1.0, 1.0, 1.0)


def test_cluster_f1_score_trace_and_feedback():
    metric, gold = ClusterF1(), example(case())
    assert metric(gold, cluster([0, 2, 3])) == pytest.approx(2 / 3)
    assert metric(gold, cluster([0, 2, 3]), trace=[]) is False  # below PASS_F1: no demo
    assert metric(gold, cluster([0, 2, 4]), trace=[]) is True
    assert metric(gold, cluster([0, 2, 4], attempts=2), trace=[]) is False  # a retried call is no demo
    scored = metric.evaluate(gold, cluster([0, 2, 3]))
    assert scored.feedback == (
        "F1 0.67 (precision 0.67, recall 0.67). Missed [4]: same thread as the pivot, they belong in the "
        "cluster. Wrongly included [3]: other threads, unrelated to the pivot."
    )
    empty = metric.evaluate(gold, cluster([], attempts=2, failure="pivot_missing"))
    assert empty.score == 0.0
    assert empty.feedback.startswith("No cluster was returned (failure: pivot_missing)")
    assert "[0, 2, 4]" in empty.feedback


def test_loose_f1_uses_the_subreddit():
    metric = ClusterF1("community")
    assert metric(example(case()), cluster([0, 2, 3, 4])) == 1.0
    assert "subreddit" in metric.evaluate(example(case()), cluster([0])).feedback
    with pytest.raises(ValueError, match="thread"):
        ClusterF1("user")


def test_gepa_feedback_wraps_any_metric():
    gepa = GEPAFeedback(ClusterF1())
    result = gepa(example(case()), cluster([0, 2, 4]), None, "pivot.predict", None)
    assert isinstance(result, dspy.Prediction)
    assert (result.score, result.feedback) == (
        1.0,
        "F1 1.00 (precision 1.00, recall 1.00). Exactly the reference cluster.",
    )


def test_summary_retrieval_ranks_its_own_cluster():
    own = case("alice", texts=[("pf", "secured credit card")] * 5)
    others = [
        case("bob", texts=[("bikes", "bike tires")] * 5, title="Bike tires"),
        case("carol", texts=[("garden", "tomato garden")] * 5, title="Tomatoes"),
        case("dave", texts=[("pf", "credit card card card")] * 5, title="Card rewards"),
    ]
    metric = SummaryRetrieval([own, *others], embedder=WordEmbedder(), distractors=9)
    assert metric(example(own), dspy.Prediction(specific="secured credit card")) == 1.0
    second = metric.evaluate(example(own), dspy.Prediction(specific="card card"))
    assert second.score == 0.5
    assert "ranks its own cluster 2 of 4" in second.feedback and "'Card rewards'" in second.feedback
    assert metric(example(own), dspy.Prediction(specific="")) == 0.0


def rerank_example():
    return dspy.Example(
        context="secured credit card", candidates=["bike tires", "credit card", "tomato garden"]
    ).with_inputs("context", "candidates")


@pytest.mark.parametrize(
    ("faithfulness", "chosen", "score", "words"),
    [
        (0.1, 1, 1.0, "judged wrong for the user"),  # nearest of three, unsupported: hardest
        (0.1, 0, 0.25, "closer to the context than 0.25"),  # ties tomato (both 0 overlap), loses to credit
        (0.9, 1, 0.0, "likely positive"),  # supported by the context: a false negative
    ],
)
def test_negative_hardness(faithfulness, chosen, score, words):
    grade = {"faithfulness": faithfulness, "specificity": 0.5, "reason": "r"}
    metric = NegativeHardness(embedder=WordEmbedder())
    with dspy.context(lm=scripted_lm(replies([grade]), cache=False), adapter=dspy.JSONAdapter()):
        scored = metric.evaluate(rerank_example(), dspy.Prediction(negative=chosen, failure=None))
    assert scored.score == pytest.approx(score)
    assert words in scored.feedback
    assert (
        metric.evaluate(rerank_example(), dspy.Prediction(negative=None, failure="duplicate_ranks")).score
        == 0
    )


def test_summary_judge_and_judge_agreement_use_the_teacher():
    lm = scripted_lm(replies([json.dumps({"faithfulness": 1.0, "specificity": 0.5, "reason": "fine"})]))
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        scored = SummaryJudge().evaluate(example(case()), dspy.Prediction(specific="Credit", related=[0, 2]))
    assert scored.score == 0.75
    assert scored.feedback == "Judge score 0.75: faithfulness 1.00, specificity 0.50. fine"
    assert "activity 0" in lm.engine.prompts[0] and "activity 3" not in lm.engine.prompts[0]
    agreement = JudgeAgreement()
    assert agreement(dspy.Example(target=1.0), dspy.Prediction(score=0.75)) == 0.75
    assert agreement(dspy.Example(target=0.0), dspy.Prediction(score=0.75)) == 0.25
    assert agreement(dspy.Example(target=0.0), dspy.Prediction(score=float("nan"), failure="x")) == 0.0
