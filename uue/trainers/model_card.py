"""The student's model card: what it is, what it was trained on and by whom, and no user text.

sentence-transformers writes a card from the trainer's datasets, with three training rows as samples
and widget examples from the data: on Reddit histories that is other people's words. Here the card
names the base model, the data (size, teacher, program hash) and the license, and its examples are
made up.
"""

from __future__ import annotations

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
        info.update({k: v for k, v in data.items() if k not in info})
    card.tags = sorted({*(card.tags or []), "uue", "user-embeddings"})
