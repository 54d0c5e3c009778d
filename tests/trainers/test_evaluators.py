"""The per-step bench evaluator computes what `uue bench` computes for the same model and triplets."""

from __future__ import annotations

import pytest

from tests.dev_triplets import write_toy_corpus
from uue.eval.bench import evaluate_model, load_triplets
from uue.eval.embedders import SentenceTransformerEmbedder
from uue.models import offline_minilm_path
from uue.trainers.evaluators import BenchEvaluator, bench_config, training_evaluator
from uue.trainers.student_config import TrainConfig


@pytest.mark.slow
def test_the_bench_evaluator_reports_the_bench_figures_of_the_model_in_training(tmp_path):
    _, triplets = write_toy_corpus(tmp_path, n_users=12)
    table = load_triplets(triplets)
    config = TrainConfig(triplets=triplets, out=tmp_path / "m", bench_distractors=3)
    bench = bench_config(config)
    embedder = SentenceTransformerEmbedder(str(offline_minilm_path()))
    expected = evaluate_model(embedder, "minilm", table, bench).means()
    metrics = BenchEvaluator(table, bench)(embedder.model, epoch=1, steps=5)
    assert metrics == pytest.approx({f"bench_{k}": v for k, v in expected.items()})
    assert {"bench_sampled_recall@1", "bench_full_mrr"} <= set(metrics)


def test_without_teacher_columns_the_validation_pairs_are_ranked(tmp_path):
    import datasets

    valid = datasets.Dataset.from_dict(
        {"anchor": ["a1", "a2"], "positive": ["p1", "p2"], "negative": ["n1", "n2"]}
    )
    config = TrainConfig(triplets=tmp_path, out=tmp_path / "m")
    names = [type(e).__name__ for e in training_evaluator(valid, None, config).evaluators]
    assert names == ["TripletEvaluator", "InformationRetrievalEvaluator"]
    with_bench = training_evaluator(valid, valid, config).evaluators
    assert type(with_bench[1]).__name__ == "BenchEvaluator"
