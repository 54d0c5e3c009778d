"""What both synth modes share: choosing users, writing the triplet dataset, the MLflow run."""

from __future__ import annotations

import os
import shutil
from itertools import islice
from pathlib import Path
from typing import Any

import datasets

from uue.datasets.histories import iter_histories
from uue.datasets.records import History
from uue.datasets.triplets import TRIPLET_FEATURES
from uue.programs.synth_config import SynthConfig


def select_users(histories_dir: Path, max_users: int | None, min_activities: int) -> list[History]:
    """The first `max_users` users (in storage order) with at least `min_activities` activities."""
    eligible = (h for h in iter_histories(histories_dir) if len(h.activities) >= min_activities)
    return list(islice(eligible, max_users))


def write_dataset(rows: list[dict[str, Any]], directory: Path) -> None:
    """Save atomically: a kill during the write leaves the previous dataset (or none), never half."""
    staging = directory.with_name(directory.name + ".tmp")
    if staging.exists():  # left by a run killed while saving
        shutil.rmtree(staging)
    columns = {name: [row[name] for row in rows] for name in TRIPLET_FEATURES}  # from_list fails on []
    datasets.Dataset.from_dict(columns, features=TRIPLET_FEATURES).save_to_disk(str(staging))
    if directory.exists():
        shutil.rmtree(directory)
    staging.rename(directory)


def log_to_mlflow(config: SynthConfig, report: dict[str, Any]) -> None:
    """Params, report figures and the dataset path, in $MLFLOW_TRACKING_URI or ./mlflow.db."""
    import mlflow  # imported here: it takes seconds, and only tracked runs need it

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    mlflow.set_experiment("uue-synth")
    params = config.model_dump(mode="json", exclude={"teacher"})
    params.update({f"teacher_{k}": v for k, v in config.teacher.model_dump(mode="json").items()})
    figures = {k: v for k, v in report.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    figures.update(
        {f"llm_{k}": v for k, v in report["llm"].items() if isinstance(v, (int, float)) and v is not None}
    )
    with mlflow.start_run(run_name=f"synth-{config.out.name}"):
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in figures.items()})
        mlflow.set_tag("dataset_path", str(config.out.resolve() / "triplets"))
        mlflow.log_dict(report, "report.json")
