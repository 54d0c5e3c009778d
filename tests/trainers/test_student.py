import json

import mlflow
import pytest

from tests.dev_triplets import write_toy_corpus
from uue.trainers.student import train, triplet_data
from uue.trainers.student_config import Precision, TrainConfig, cpu_has_native_bf16


@pytest.mark.slow
def test_tiny_training_run_gives_a_loadable_model_and_an_mlflow_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, trip = write_toy_corpus(tmp_path, n_users=16)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = TrainConfig(
        triplets=trip,
        out=tmp_path / "model",
        max_steps=2,
        batch_size=8,
        eval_steps=2,
        max_seq_length=64,
        valid_fraction=0.3,
        matryoshka_dims=[32, 384],
        precision="bf16",  # autocast end to end (emulated where the CPU lacks bf16: 2 short steps)
        tracking_uri=uri,
        experiment="test",
    )
    result = train(config)

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(tmp_path / "model"), device="cpu")
    assert model.encode(["hello"]).shape == (1, 384)
    provenance = json.loads((tmp_path / "model" / "uue_provenance.json").read_text())
    assert (
        provenance["made_by"]["command"] == "uue train"
        and provenance["triplets_report"]["kind"] == "dev-triplets"
    )
    assert provenance["made_by"]["settings"]["base_model"] == "minilm"  # the typed config, as JSON
    assert provenance["made_by"]["settings"]["precision"] == "bf16"
    assert provenance["split"]["train_users"] > 0 and provenance["split"]["valid_users"] > 0
    assert not (tmp_path / "model" / "checkpoints").exists() and (tmp_path / "model.checkpoints").is_dir()
    card = (tmp_path / "model" / "README.md").read_text()
    assert "sentence-transformers/all-MiniLM-L6-v2" in card and "uue student" in card
    import datasets

    rows = datasets.load_from_disk(str(trip / "triplets"))
    leaked = [t for t in [*rows["context"], *rows["positive"]] if len(t) > 20 and t[:60] in card]
    assert not leaked, leaked[:2]  # no training text in the card

    mlflow.set_tracking_uri(uri)
    run = mlflow.get_run(result.run_id)
    metrics = run.data.metrics
    assert "eval_valid_cosine_accuracy" in metrics and "train_loss" in metrics
    assert any(k.startswith("eval_valid-retrieval_cosine_mrr") for k in metrics), sorted(metrics)  # per step
    assert {"bench/dim32/sampled_recall_at_1", "bench/dim384/full_mrr"} <= set(metrics)
    assert run.data.tags["uue.teacher_model"] == "dev-heuristic"
    logged = {(i.dataset.name, i.tags[0].value if i.tags else "") for i in run.inputs.dataset_inputs}
    assert {name.split("/")[-1] for name, _ in logged} == {"train", "validation"}
    (logged_model,) = mlflow.search_logged_models(
        filter_string=f"source_run_id = '{result.run_id}'", output_format="list"
    )
    assert logged_model.name == "student"


def test_without_hard_negatives_the_teacher_data_keeps_query_and_label_only(tmp_path):
    _, trip = write_toy_corpus(tmp_path, n_users=16)
    config = TrainConfig(triplets=trip, out=tmp_path / "model", valid_fraction=0.3)
    with_negatives, valid, split, _ = triplet_data(config)
    without, _, _, _ = triplet_data(config.model_copy(update={"hard_negatives": False}))
    assert with_negatives.column_names == ["context", "positive", "negative"]
    assert without.column_names == ["context", "positive"]
    assert without["positive"] == with_negatives["positive"] and len(without) > 0
    assert "negative" in valid.column_names  # validation still scores the mined negative
    assert split.train.isdisjoint(split.valid)


def test_the_mixed_objective_needs_histories_and_triplets(tmp_path):
    with pytest.raises(ValueError, match="mixed objective needs --histories"):
        TrainConfig(objective="mixed", triplets=tmp_path, out=tmp_path)
    with pytest.raises(ValueError, match="mixed objective needs --triplets"):
        TrainConfig(objective="mixed", histories=tmp_path, out=tmp_path)


def test_auto_precision_is_bf16_only_where_the_cpu_computes_it_natively(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 avx2 avx512f avx512_bf16\n")
    assert cpu_has_native_bf16(cpuinfo)
    cpuinfo.write_text("processor : 0\nflags : fpu sse2 avx2 avx512f\n")  # bf16 would be emulated
    assert not cpu_has_native_bf16(cpuinfo)
    assert not cpu_has_native_bf16(tmp_path / "missing")

    import uue.trainers.student_config as student_config

    config = TrainConfig(triplets=tmp_path, out=tmp_path / "m")
    assert config.precision is Precision.auto
    for native in (True, False):
        monkeypatch.setattr(student_config, "cpu_has_native_bf16", lambda native=native: native)
        assert config.bf16 is native
        assert config.model_copy(update={"precision": Precision.fp32}).bf16 is False
        assert config.model_copy(update={"precision": Precision.bf16}).bf16 is True


def test_attention_dropout_reaches_every_attention_layer_and_is_left_alone_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from uue.trainers.student import build_model

    def dropouts(config: TrainConfig) -> set[float]:
        layers = build_model(config)[0].auto_model.encoder.layer
        return {layer.attention.self.dropout.p for layer in layers}

    config = TrainConfig(triplets=tmp_path, out=tmp_path / "model")  # building the model reads no data
    assert dropouts(config) == {0.1}  # MiniLM's own
    assert dropouts(config.model_copy(update={"attention_dropout": 0.0})) == {0.0}


def test_training_side_triplets_train_unevaluated_and_are_refused_when_evaluation_needs_held_out_users(
    tmp_path,
):
    import datasets

    from uue.errors import ConfigError
    from uue.eval.split import is_held_out
    from uue.trainers.student import split_triplets

    users = [u for u in (f"user{i}" for i in range(40)) if not is_held_out(u, 0.2, 0)][:10]
    table = datasets.Dataset.from_dict({"user_id": users, "context": users, "positive": users})
    config = TrainConfig(triplets=tmp_path, out=tmp_path / "model", valid_fraction=0.2, evaluate=False)
    train_set, valid_set, _ = split_triplets(table, config)
    assert len(train_set) == 10 and len(valid_set) == 0
    with pytest.raises(ConfigError, match="0 validation"):
        split_triplets(table, config.model_copy(update={"evaluate": True}))
