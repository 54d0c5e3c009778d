"""What `uue train` evaluates at every evaluation step (MLflow, the model card's history): the triplet
accuracy and `uue bench`'s own protocol on the held-out users' triplets (`BenchEvaluator`), or, for
examples without teacher labels (same-user windows), a retrieval ranking of the validation pairs."""

from __future__ import annotations

import datasets
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from uue.eval.bench import BenchConfig, evaluate_model
from uue.eval.embedders import SentenceTransformerEmbedder
from uue.trainers.student_config import TrainConfig


class BenchEvaluator(SentenceEvaluator):
    """Validation triplets of held-out users (the `uue synth` columns: context, positive, negative,
    user_id): Recall@1 and MRR of the positive against its negative and `distractors` other users'
    labels (`sampled_*`), and against every validation label (`full_*`), as `uue bench` computes them."""

    def __init__(
        self, table: datasets.Dataset, bench: BenchConfig, batch_size: int = 32, name: str = "bench"
    ):
        super().__init__()
        self.table, self.bench, self.batch_size, self.name = table, bench, batch_size, name
        self.primary_metric = "full_mrr"

    def __call__(
        self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        embedder = SentenceTransformerEmbedder.of_model(model, "training", self.batch_size)
        result = evaluate_model(embedder, embedder.name, self.table, self.bench)
        metrics = self.prefix_name_to_metrics(result.means(), self.name)
        self.store_metrics_in_model_card_data(model, metrics, epoch, steps)
        return metrics


def bench_config(config: TrainConfig) -> BenchConfig:
    """The bench settings of the final bench and of the per-step bench evaluator (means only: few resamples)."""
    return BenchConfig(
        triplets=config.triplets, distractors=config.bench_distractors, seed=config.seed, resamples=200
    )


def retrieval_evaluator(valid: datasets.Dataset, batch_size: int):
    """The bench's question at every evaluation step: each validation query against every validation
    label (positives and negatives), sentence-transformers' InformationRetrievalEvaluator (MRR@10,
    Recall@k, NDCG@10 per step in MLflow)."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    anchor, positive, negative = valid.column_names
    labels = list(dict.fromkeys([*valid[positive], *valid[negative]]))
    corpus = {f"d{i}": text for i, text in enumerate(labels)}
    ids = {text: key for key, text in corpus.items()}
    queries = {f"q{i}": text for i, text in enumerate(valid[anchor])}
    relevant = {f"q{i}": {ids[text]} for i, text in enumerate(valid[positive])}
    return InformationRetrievalEvaluator(
        queries, corpus, relevant, name="valid-retrieval", mrr_at_k=[10], ndcg_at_k=[10],
        accuracy_at_k=[1, 5], precision_recall_at_k=[1, 5], map_at_k=[10], batch_size=batch_size,
        show_progress_bar=False, write_csv=False,
    )  # fmt: skip


def training_evaluator(valid: datasets.Dataset, bench_table: datasets.Dataset | None, config: TrainConfig):
    """Triplet accuracy on `valid` (anchor, positive, negative), then the bench protocol on
    `bench_table` (validation triplets with their `uue synth` columns) or, without one, the retrieval
    ranking of `valid`."""
    from sentence_transformers.sentence_transformer.evaluation import SequentialEvaluator, TripletEvaluator

    anchor, positive, negative = valid.column_names
    triplets = TripletEvaluator(valid[anchor], valid[positive], valid[negative], name="valid",
                                write_csv=False, batch_size=config.batch_size)  # fmt: skip
    ranking = (
        BenchEvaluator(bench_table, bench_config(config), config.batch_size)
        if bench_table is not None
        else retrieval_evaluator(valid, config.batch_size)
    )
    return SequentialEvaluator([triplets, ranking])
