"""What `uue train` logs beside the trainer: uue's config as params (flattened, no secret), the synth
folder as an input with the digest every stage logs, the teacher's report, and sample rows without
user text."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import mlflow
from pydantic import BaseModel

from tests.dev_triplets import write_toy_corpus
from uue.tracking import config_params, tracked_run, triplets_input
from uue.trainers.student_config import TrainConfig
from uue.trainers.train_tracking import bench_metrics, log_triplets_dataset, metric_values


class _Teacher(BaseModel):
    model: str = "qwen"
    api_key: str = "sk-test-secret"
    options: dict = {"temperature": 0.2, "hub_token": "hf_secret", "retry": {"attempts": 3}}


class _Stage(BaseModel):
    teacher: _Teacher = _Teacher()
    client_secret: str = "s3cret"
    out: Path = Path("runs/x")
    dims: list[int] = [64, 32]
    tracking_uri: str = "https://me:hunter2@mlflow.example/"


def test_params_are_the_flattened_config_as_text_without_secrets():
    params = config_params(_Stage())
    assert params == {
        "teacher.model": "qwen",
        "teacher.options.temperature": "0.2",
        "teacher.options.retry.attempts": "3",
        "out": "runs/x",
        "dims": "[64, 32]",
        "tracking_uri": "https://me:***@mlflow.example/",  # a password in a URL is masked
    }


def test_train_params_hold_uue_settings_by_their_config_names(tmp_path):
    config = TrainConfig(triplets=tmp_path, out=tmp_path / "m", loss="cached-mnrl", matryoshka_dims="32,384")
    params = config_params(config)
    assert params["loss"] == "cached-mnrl" and params["base_model"] == "minilm"
    assert params["valid_fraction"] == "0.1" and params["matryoshka_dims"] == "[384, 32]"
    assert params["lora"] == "False" and params["push_to_hub"] == "None"
    assert set(params) == set(TrainConfig.model_fields)  # nothing in TrainConfig names a secret


def test_the_synth_folder_is_an_input_with_its_report_and_sample_rows_without_user_text(tmp_path):
    _, trip = write_toy_corpus(tmp_path, n_users=16)
    table = datasets.load_from_disk(str(trip / "triplets"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with tracked_run("tracking-test", "inputs", uri=uri) as run:
        log_triplets_dataset(trip, table)
    stored = mlflow.get_run(run.info.run_id)
    (logged,) = stored.inputs.dataset_inputs
    assert logged.dataset.digest == triplets_input(trip).digest and logged.dataset.name == "trip"
    assert logged.tags[0].value == "training"
    artifacts = Path(run.info.artifact_uri.removeprefix("file://"))
    assert json.loads((artifacts / "teacher_report.json").read_text())["kind"] == "dev-triplets"
    sample = json.loads((artifacts / "sample_triplets.json").read_text())
    assert sample["columns"] == ["triplet_id", "user_id", "positive", "positive_broad", "negative"]
    assert len(sample["data"]) == min(20, len(table))
    text = (artifacts / "sample_triplets.json").read_text()
    assert not [c for c in table["context"] if c[:60] in text]  # the user's own text stays out


def test_trainer_logs_become_metrics_under_names_mlflow_accepts():
    logs = {"loss": 1.5, "eval_valid-retrieval_cosine_mrr@10": 0.4, "epoch": 1, "flag": True, "note": "x"}
    assert metric_values(logs) == {"loss": 1.5, "eval_valid-retrieval_cosine_mrr_10": 0.4, "epoch": 1.0}


def test_bench_figures_become_metrics_per_dim():
    figures = {384: {"full_recall@1": 0.5}, 32: {"sampled_mrr": 0.25}}
    assert bench_metrics(figures) == {"bench/dim384/full_recall_at_1": 0.5, "bench/dim32/sampled_mrr": 0.25}
    assert bench_metrics({None: {"full_mrr": 0.5}}) == {"bench/full_mrr": 0.5}
