"""The one MLflow run helper: off means no mlflow at all; a crash inside the run leaves it FAILED."""

from __future__ import annotations

import datasets
import mlflow
import pytest

from uue.datasets.triplets import TRIPLET_FEATURES
from uue.tracking import log_triplets_input, numeric, tracked_run


def test_a_disabled_run_is_none():
    with tracked_run("x", "y", enabled=False) as run:
        assert run is None


def test_a_crash_inside_the_run_ends_it_failed(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(RuntimeError), tracked_run("uue-test", "crash", uri=uri) as run:
        run_id = run.info.run_id
        raise RuntimeError("boom")
    mlflow.set_tracking_uri(uri)
    assert mlflow.get_run(run_id).info.status == "FAILED"
    with tracked_run("uue-test", "fine", uri=uri) as run:
        run_id = run.info.run_id
    assert mlflow.get_run(run_id).info.status == "FINISHED"
    assert mlflow.get_run(run_id).info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())


def test_numeric_keeps_numbers_only():
    assert numeric({"a": 1, "b": True, "c": None, "d": "x", "e": 2.5}, "p_") == {"p_a": 1.0, "p_e": 2.5}


def test_an_empty_triplets_folder_is_not_logged_as_a_dataset(tmp_path):
    empty = datasets.Dataset.from_dict({name: [] for name in TRIPLET_FEATURES}, features=TRIPLET_FEATURES)
    full = datasets.Dataset.from_dict({name: [[]] if "ids" in name or "indices" in name else
                                       [0.5] if name == "judge_score" else ["x"] for name in TRIPLET_FEATURES},
                                      features=TRIPLET_FEATURES)  # fmt: skip
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with tracked_run("t", "r", uri=uri) as run:
        log_triplets_input(tmp_path / "empty", "output", empty)  # MLflow cannot hash zero rows
        log_triplets_input(tmp_path / "full", "output", full)
    (logged,) = mlflow.MlflowClient(uri).get_run(run.info.run_id).inputs.dataset_inputs
    assert logged.dataset.name == "full"
