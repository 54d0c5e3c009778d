"""The student's model card: what it is, what it was trained on and by whom, and no user text.

sentence-transformers writes a card from the trainer's datasets, with three training rows as samples
and widget examples from the data: on Reddit histories that is other people's words. Here the card
names the base model, the data (size, teacher, program hash) and the license, holds the final bench
on held-out users, and its examples are made up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Written for the card, not taken from any history: a student's view and two interest labels.
USAGE_EXAMPLES = [
    "r/College · Which meal plan is worth it? · I cook most nights, so the smallest plan is enough for me",
    "Campus meal plans",
    "Graduate school admissions",
]
BASE_MODELS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2"}


def prepare_card(model: Any, base_model: str) -> None:
    """Before training: no widget examples from the data; the base model named as the Hub knows it."""
    card = model.model_card_data
    card.generate_widget_examples = False
    card.language = ["en"]
    card.license = "apache-2.0"  # all-MiniLM-L6-v2's
    if base_model in BASE_MODELS:
        card.base_model = BASE_MODELS[base_model]


def finish_card(model: Any, name: str, data: dict[str, Any]) -> None:
    """Before saving: drop the sample rows the trainer took from the data, describe the data instead."""
    card = model.model_card_data
    card.model_name = name
    card.usage_examples = USAGE_EXAMPLES
    # the trainer fills the widget from the data whatever generate_widget_examples says: replace it
    card.widget = [{"source_sentence": USAGE_EXAMPLES[0], "sentences": USAGE_EXAMPLES[1:]}]
    for info in [*card.train_datasets, *card.eval_datasets]:
        for key in ("examples", "_example_columns", "examples_table"):
            info.pop(key, None)
        info.update({k: v for k, v in data.items() if info.get(k) is None})  # "Unnamed Dataset": named
    card.tags = sorted({*(card.tags or []), "uue", "user-embeddings"})


CARD_METRICS = ("recall@1", "mrr")  # the bench's headline figures, per protocol (sampled, full)


@dataclass(eq=False)  # the card keys its results by evaluator, by identity
class HeldOutBench:
    """The final `uue bench` on held-out users in the shape the card's Evaluation section reads an
    evaluator (name, description, primary metric, config): sentence-transformers renders its table,
    one column per Matryoshka dim."""

    name: str
    config: dict[str, Any] = field(default_factory=dict)
    description: str = "Held Out User Retrieval"
    primary_metric: str | None = None  # a primary metric would add a step-0 row to the training logs

    def get_config_dict(self) -> dict[str, Any]:
        return self.config


def add_bench_to_card(
    model: Any, bench: Mapping[int | None, Mapping[str, float]], config: dict[str, Any]
) -> None:
    """`bench`: {dim (None: full size): {"sampled_recall@1": ..., "full_mrr": ...}}; only figures,
    never a query or label, reach the card."""
    for dim, figures in bench.items():
        shown = {k: v for k, v in figures.items() if k.partition("_")[2] in CARD_METRICS}
        name = f"held-out-users-dim{dim}" if dim else "held-out-users"
        model.model_card_data.set_evaluation_metrics(HeldOutBench(name, config), shown)


def write_card(model: Any, folder: Path) -> None:
    """README.md of a saved model (saved with `create_model_card=False`: the card is written after the
    final bench, which reads the saved folder, so that it holds the bench's figures)."""
    from sentence_transformers.base.model_card import generate_model_card

    model.model_card_data.save_dir = str(folder)
    (Path(folder) / "README.md").write_text(generate_model_card(model), encoding="utf8")
