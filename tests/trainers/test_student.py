import json
from pathlib import Path

import mlflow
import pytest

from tests.dev_triplets import write_toy_corpus
from uue.provenance import made_by
from uue.tracking import triplets_input
from uue.trainers import student as student_module
from uue.trainers.student import train, train_or_reuse, triplet_data
from uue.trainers.student_config import Precision, TrainConfig, cpu_has_native_bf16

SECRET = "sk-test-secret"


def _pushes(monkeypatch) -> list[dict]:
    """`SentenceTransformer.push_to_hub` recording its arguments instead of calling the Hub."""
    from sentence_transformers import SentenceTransformer

    calls: list[dict] = []

    def record(model, repo_id, **options):
        calls.append({"repo_id": repo_id, **options})
        return f"https://huggingface.co/{repo_id}/commit/0"

    monkeypatch.setattr(SentenceTransformer, "push_to_hub", record)
    return calls


def _store_text(run, artifact_root: Path) -> str:
    """Everything the run stored as text: params, tags and every text file of the experiment's artifacts
    (the run's and its logged model's)."""
    suffixes = {".json", ".txt", ".md", ".yaml", ""}
    files = [p for p in artifact_root.rglob("*") if p.is_file() and p.suffix in suffixes]
    return json.dumps([run.data.params, run.data.tags]) + "".join(p.read_text(errors="ignore") for p in files)


@pytest.mark.slow
def test_tiny_training_run_gives_a_loadable_model_and_an_mlflow_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # must reach no param, tag or artifact
    pushes = _pushes(monkeypatch)
    _, trip = write_toy_corpus(tmp_path, n_users=16)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = TrainConfig(
        triplets=trip,
        out=tmp_path / "model",
        max_steps=2,
        batch_size=8,
        eval_steps=1,  # two evaluation steps
        max_seq_length=64,
        valid_fraction=0.3,
        matryoshka_dims=[32, 384],
        precision="bf16",  # autocast end to end (emulated where the CPU lacks bf16: 2 short steps)
        tracking_uri=uri,
        experiment="test",
        push_to_hub="someone/uue-student",
        register_as="uue-student-test",
    )
    result = train(config)
    (version,) = mlflow.MlflowClient(uri).search_model_versions("name='uue-student-test'")  # --register
    assert version.run_id == result.run_id

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
    assert "teacher dev-heuristic, program dev" in card  # the teacher and its program hash
    assert "held-out-users-dim32" in card and "full_recall@1" in card and "full_mrr" in card
    assert str(round(result.metrics["bench/dim384/full_mrr"], 4)) in card  # the final bench, in the card
    assert 'SentenceTransformer("someone/uue-student")' in card  # the usage snippet names the Hub repo
    import datasets

    rows = datasets.load_from_disk(str(trip / "triplets"))
    leaked = [t for t in [*rows["context"], *rows["positive"]] if len(t) > 20 and t[:60] in card]
    assert not leaked, leaked[:2]  # no training text in the card

    mlflow.set_tracking_uri(uri)
    run = mlflow.get_run(result.run_id)
    metrics = run.data.metrics
    assert "eval_valid_cosine_accuracy" in metrics and "train_loss" in metrics
    assert {"eval_bench_full_mrr", "eval_bench_sampled_recall_1"} <= set(metrics), sorted(metrics)  # per step
    steps = mlflow.MlflowClient(uri).get_metric_history(result.run_id, "eval_bench_full_mrr")
    assert len(steps) >= 2 and all(
        0 < m.value <= 1 for m in steps
    )  # every evaluation step, as bench computes it
    assert {"bench/dim32/sampled_recall_at_1", "bench/dim384/full_mrr"} <= set(metrics)
    assert (
        run.data.tags["uue.teacher_model"] == "dev-heuristic" and run.data.tags["uue.program_hash"] == "dev"
    )
    assert run.data.tags["uue.dataset"] == str(trip.resolve()) and "uue.dataset.report" not in run.data.tags
    params = run.data.params
    assert set(params) == set(TrainConfig.model_fields)  # uue's config; the trainer's: training_args.json
    assert params["loss"] == "mnrl" and params["base_model"] == "minilm" and params["valid_fraction"] == "0.3"
    assert params["matryoshka_dims"] == "[384, 32]" and params["push_to_hub"] == "someone/uue-student"
    logged = {i.dataset.name: i.dataset.digest for i in run.inputs.dataset_inputs}
    assert set(logged) == {"trip", "trip/train", "trip/validation"}
    assert logged["trip"] == triplets_input(trip).digest  # the digest `uue synth` and `uue bench` log

    artifact_root = Path(
        mlflow.get_experiment(run.info.experiment_id).artifact_location.removeprefix("file://")
    )
    artifacts = artifact_root / result.run_id / "artifacts"
    assert artifact_root.is_relative_to(tmp_path)
    stored = {p.relative_to(artifacts).as_posix() for p in artifacts.rglob("*") if p.is_file()}
    assert {"teacher_report.json", "sample_triplets.json", "plots/training_loss.png"} <= stored
    assert {"plots/eval_metrics.png", "plots/matryoshka_dims.png", "training_args.json"} <= stored
    assert json.loads((artifacts / "teacher_report.json").read_text())["kind"] == "dev-triplets"
    sample = json.loads((artifacts / "sample_triplets.json").read_text())
    assert "context" not in sample["columns"] and {"triplet_id", "positive", "negative"} <= set(
        sample["columns"]
    )
    stored_text = _store_text(run, artifact_root)
    assert SECRET not in stored_text and SECRET.encode() not in (tmp_path / "mlflow.db").read_bytes()
    assert not [t for t in rows["context"] if len(t) > 20 and t[:60] in stored_text]  # no user text

    (push,) = pushes
    assert push["repo_id"] == "someone/uue-student" and push["local_model_path"] == str(tmp_path / "model")
    assert push["exist_ok"] is True and run.data.tags["uue.hub_repo"] == "someone/uue-student"
    (logged_model,) = mlflow.search_logged_models(
        filter_string=f"source_run_id = '{result.run_id}'", output_format="list"
    )
    assert logged_model.name == "student"


def test_without_hard_negatives_the_teacher_data_keeps_query_and_label_only(tmp_path):
    _, trip = write_toy_corpus(tmp_path, n_users=16)
    config = TrainConfig(triplets=trip, out=tmp_path / "model", valid_fraction=0.3)
    with_negatives = triplet_data(config)
    without = triplet_data(config.model_copy(update={"hard_negatives": False}))
    assert with_negatives.train.column_names == ["context", "positive", "negative"]
    assert without.train.column_names == ["context", "positive"]
    assert without.train["positive"] == with_negatives.train["positive"] and len(without.train) > 0
    assert "negative" in with_negatives.valid.column_names  # validation still scores the mined negative
    assert with_negatives.eval_triplets.column_names == ["context", "positive", "negative"]
    assert with_negatives.split.train.isdisjoint(with_negatives.split.valid)
    assert len(with_negatives.triplets) == len(with_negatives.train) + len(with_negatives.valid)


def test_a_crash_while_the_model_loads_leaves_a_failed_run_with_its_params(tmp_path, monkeypatch):
    import uue.trainers.student as student

    def broken(config):
        raise RuntimeError("no such model")

    monkeypatch.setattr(student, "build_model", broken)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _, trip = write_toy_corpus(tmp_path, n_users=16)
    config = TrainConfig(triplets=trip, out=tmp_path / "model", tracking_uri=uri, experiment="crash")
    with pytest.raises(RuntimeError, match="no such model"):
        train(config)
    mlflow.set_tracking_uri(uri)
    (run,) = mlflow.search_runs(experiment_names=["crash"], output_format="list")
    assert run.info.status == "FAILED" and run.data.params["objective"] == "triplets"


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


def test_a_model_made_the_same_way_is_reused_wherever_it_is_written_or_pushed(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(student_module, "train", lambda config: trained.append(config) or "trained")
    first = TrainConfig(triplets=tmp_path / "t", out=tmp_path / "a")
    (tmp_path / "b").mkdir()
    provenance = {"made_by": made_by("uue train", first), "split": {"train_users": 3}, "mlflow_run_id": "r1"}
    (tmp_path / "b" / "uue_provenance.json").write_text(json.dumps(provenance, default=str))
    moved = first.model_copy(update={"out": tmp_path / "b", "push_to_hub": "someone/model"})
    assert train_or_reuse(moved).reused and not trained
    assert train_or_reuse(moved.model_copy(update={"loss": "gist"})) == "trained"  # another making
