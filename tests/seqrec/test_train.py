"""A tiny real training run on LastFM (first users only): a model, metrics and an MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import SHARED_DATA
from uue.cli import app
from uue.seqrec.config import config_from_dict
from uue.seqrec.data import load_seqrec
from uue.seqrec.evaluate import metrics_from_ranks
from uue.seqrec.layers import SeqRecommender
from uue.seqrec.profiles import ProfileTable
from uue.seqrec.train import train_seqrec

LASTFM = SHARED_DATA / "seqrec" / "LastFM.txt"


@pytest.fixture(autouse=True)
def _lastfm_is_there() -> None:
    if not LASTFM.is_file():  # missing data fails loudly, as conftest's shared_data does
        pytest.fail(f"the shared seqrec data is missing: expected {LASTFM}")


def tiny_config(tmp_path: Path, model: str = "sasrec", **sections) -> dict:
    return {
        "seed": 0,
        "experiment_name": "test-seqrec",
        "data": {"path": str(LASTFM), "max_users": 60},
        "model": {"model_name": model, "maxlen": 20, "hidden_units": 16, "num_blocks": 1, "num_heads": 1},
        "training": {"epochs": 1, "batch_size": 32, "num_threads": 1},
        "eval": {"protocols": ["full", "random99", "popular100"]},
        "tracking": {"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "save_model": True},
    } | sections


def test_one_epoch_makes_a_model_and_an_mlflow_run(tmp_path: Path) -> None:
    import mlflow

    result = train_seqrec(config_from_dict(tiny_config(tmp_path)))
    assert isinstance(result.model, SeqRecommender)
    assert result.epochs_run == 1 and result.best_epoch == 1
    assert set(result.test_metrics) == {"full", "random99", "popular100"}
    assert 0.0 <= result.test_metrics["full"]["NDCG@10"] <= result.test_metrics["full"]["HR@10"] <= 1.0
    # per-user ranks behind the means, for intervals and paired comparisons over the same users
    assert {p: len(r) for p, r in result.test_ranks.items()} == {p: 60 for p in result.test_metrics}
    assert metrics_from_ranks(result.test_ranks["full"]) == pytest.approx(result.test_metrics["full"])
    assert result.samples_per_second > 0

    run = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(result.run_id)
    assert run.data.params["model.model_name"] == "sasrec"
    assert run.data.params["data.users"] == "60"
    assert {"loss", "valid.full.NDCG_10", "test.full.NDCG_10", "test.random99.HR_10"} <= set(run.data.metrics)
    artifacts = {
        a.path
        for a in mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").list_artifacts(run.info.run_id)
    }
    assert {"config.yaml", "model.pt"} <= artifacts


def test_bert4rec_with_distillation_switches_stage(tmp_path: Path) -> None:
    data = load_seqrec(LASTFM, max_users=60)
    rng = np.random.default_rng(0)
    profiles = ProfileTable(
        data.user_ids[:50], rng.normal(size=(50, 12)).astype(np.float32)
    )  # 10 users lack one
    profiles.save(tmp_path / "profiles.json")
    raw = tiny_config(
        tmp_path,
        model="bert4rec",
        training={"epochs": 3, "batch_size": 32, "num_threads": 1, "patience": None},
        distillation={
            "enabled": True,
            "profiles_path": str(tmp_path / "profiles.json"),
            "profile_dim": 8,
            "fine_tune_epoch": 3,
            "weighting_scheme": "attention",
        },
        eval={"protocols": ["full"]},
        tracking={"enabled": False},
    )
    result = train_seqrec(config_from_dict(raw), data=data)
    assert result.run_id is None
    first, second, third = result.history
    assert first["distill_loss"] > 0 and second["distill_loss"] > 0
    assert first["beta"] > 0
    assert "distill_loss" not in third  # from fine_tune_epoch on the term is not computed
    assert third["loss"] == pytest.approx(third["rec_loss"])
    assert result.distillation is not None and result.distillation.profile_dim == 8


def test_model_selection_on_a_sampled_protocol_keeps_its_best_epoch(tmp_path: Path) -> None:
    from uue.seqrec.data import Split
    from uue.seqrec.evaluate import SeqRecEvaluator

    raw = tiny_config(
        tmp_path,
        training={"epochs": 4, "batch_size": 32, "num_threads": 1, "patience": None},
        eval={"protocols": ["random99"], "select_protocol": "random99", "select_metric": "MRR"},
        tracking={"enabled": False},
    )
    data = load_seqrec(LASTFM, max_users=60)
    result = train_seqrec(config_from_dict(raw), data=data)
    scores = [row["valid.random99.MRR"] for row in result.history]
    assert not any(key.startswith("valid.full") for row in result.history for key in row)
    assert result.best_epoch == 1 + int(np.argmax(scores))
    # the restored model is the best epoch's: its valid MRR under the same negatives is the logged one
    valid = SeqRecEvaluator(data, "random99", split=Split.valid)
    assert valid(result.model)["MRR"] == pytest.approx(max(scores), abs=1e-4)


def test_checkpoint_roundtrip_and_evaluate_entry_point(tmp_path: Path) -> None:
    from uue.seqrec.train import evaluate_checkpoint, load_checkpoint, save_checkpoint

    config = config_from_dict(tiny_config(tmp_path, tracking={"enabled": False}))
    result = train_seqrec(config, data=load_seqrec(LASTFM, max_users=60))
    path = save_checkpoint(result.model, config, tmp_path / "model.pt")
    model, loaded = load_checkpoint(path)
    assert loaded.model == config.model
    metrics = evaluate_checkpoint(config, path, ["full", "random99"])
    assert metrics["full"] == pytest.approx(result.test_metrics["full"])
    assert metrics["random99"] == pytest.approx(result.test_metrics["random99"])


def test_the_seqrec_commands_train_save_and_bench_the_checkpoint(tmp_path: Path) -> None:
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(tiny_config(tmp_path, tracking={"enabled": False})))
    runner = CliRunner()
    trained = runner.invoke(
        app, ["seqrec", "train", "--config", str(config_file), "--out", str(tmp_path / "m.pt")]
    )
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "m.pt").is_file() and "full: " in trained.output
    bench = runner.invoke(app, ["seqrec", "bench", "--config", str(config_file), "--checkpoint",
                                str(tmp_path / "m.pt"), "--protocol", "random99"])  # fmt: skip
    assert bench.exit_code == 0, bench.output
    assert set(json.loads(bench.output)) == {"random99"}
