"""`uue bench`'s triplet protocol as a sentence-transformers evaluator, so the figures the final bench
reports are also logged at every evaluation step of training (MLflow, the model card's history)."""

from __future__ import annotations

import datasets
from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

from uue.eval.bench import BenchConfig, evaluate_model
from uue.eval.embedders import SentenceTransformerEmbedder


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
