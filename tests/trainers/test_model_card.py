"""The student's model card holds no user text: no widget or sample rows from the data, made-up usage
examples instead, the data described by its size and teacher, and the base model named for the Hub."""

from __future__ import annotations

from types import SimpleNamespace

from uue.trainers.model_card import BASE_MODELS, USAGE_EXAMPLES, add_bench_to_card, finish_card, prepare_card

USER_TEXT = "i moved out of my parents place last week and my landlord is ignoring me"


def _model(**card) -> SimpleNamespace:
    fields = {"train_datasets": [], "eval_datasets": [], "tags": None, "widget": [], "base_model": None}
    return SimpleNamespace(model_card_data=SimpleNamespace(**{**fields, **card}))


def test_prepare_turns_off_data_widgets_and_names_a_known_base_model():
    model = _model()
    prepare_card(model, "minilm")
    card = model.model_card_data
    assert card.generate_widget_examples is False and card.language == ["en"]
    assert card.license == "apache-2.0" and card.base_model == BASE_MODELS["minilm"]


def test_a_base_model_folder_is_not_named_as_a_hub_model():
    model = _model()
    prepare_card(model, "runs/same-user")
    assert model.model_card_data.base_model is None


def test_finish_replaces_sample_rows_and_widgets_with_made_up_examples():
    sample = {"anchor": USER_TEXT, "positive": "Tenant rights"}
    train = {"name": "triplets", "size": 120, "examples": [sample], "_example_columns": ["anchor"],
             "examples_table": f"| {USER_TEXT} |"}  # fmt: skip
    evaluation = {"name": "held-out", "examples": [sample]}
    model = _model(
        train_datasets=[train],
        eval_datasets=[evaluation],
        tags=["sentence-transformers", "uue"],
        widget=[{"source_sentence": USER_TEXT, "sentences": ["Tenant rights"]}],
    )
    finish_card(model, "uue student (mixed, base minilm)", {"description": "same-user pairs", "size": 999})
    card = model.model_card_data
    assert USER_TEXT not in repr(vars(card))
    assert card.model_name == "uue student (mixed, base minilm)" and card.usage_examples == USAGE_EXAMPLES
    assert card.widget == [{"source_sentence": USAGE_EXAMPLES[0], "sentences": USAGE_EXAMPLES[1:]}]
    assert card.train_datasets == [{"name": "triplets", "size": 120, "description": "same-user pairs"}]
    assert card.eval_datasets == [{"name": "held-out", "description": "same-user pairs", "size": 999}]
    assert card.tags == ["sentence-transformers", "user-embeddings", "uue"]


def test_finish_adds_tags_to_a_card_without_any():
    model = _model()
    finish_card(model, "uue student", {})
    assert model.model_card_data.tags == ["user-embeddings", "uue"]


def test_finish_names_an_unnamed_dataset():
    model = _model(train_datasets=[{"name": None, "size": 10}])
    finish_card(model, "uue student", {"name": "uue triplets (teacher t, program abc)", "size": 99})
    assert model.model_card_data.train_datasets == [
        {"name": "uue triplets (teacher t, program abc)", "size": 10}
    ]


def test_the_final_bench_is_one_table_of_headline_figures_with_a_column_per_dim():
    from sentence_transformers import SentenceTransformerModelCardData

    card = SentenceTransformerModelCardData()
    bench = {
        384: {"sampled_recall@1": 0.5, "sampled_recall@5": 0.9, "sampled_mrr": 0.61234, "full_mrr": 0.4},
        32: {"sampled_recall@1": 0.25, "sampled_recall@5": 0.8, "sampled_mrr": 0.5, "full_mrr": 0.3},
    }
    add_bench_to_card(SimpleNamespace(model_card_data=card), bench, {"distractors": 9})
    (table,) = card.format_eval_metrics()["eval_metrics"]
    assert table["description"] == "Held Out User Retrieval" and '"distractors": 9' in table["config_code"]
    assert table["dataset_name"] == ["held-out-users-dim384", "held-out-users-dim32"]
    rows = [line.split("|")[1].strip() for line in table["table"].splitlines()[2:]]
    assert rows == ["sampled_recall@1", "sampled_mrr", "full_mrr"]  # recall@5 is left to the MLflow run
    assert "0.6123" in table["table"]
