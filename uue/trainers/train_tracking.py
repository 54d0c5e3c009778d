"""What `uue train` logs to MLflow beside the Hugging Face callback's metrics: uue's own typed config as
params (`uue.tracking.config_params`, as the bench does), its datasets as inputs, the teacher's report
and sample triplets without user text (the plots: `uue.trainers.train_plots`).

uue's settings (loss, Matryoshka dims, LoRA, valid fraction, base model) are what one compares
students by in the UI, so they are the run's params, under their config names. The trainer's metrics
reach MLflow through `MlflowMetrics`, not transformers' `MLflowCallback`: that one also logs all of
`TrainingArguments` as params (150 of them, `hub_token`, `ddp_*`, ...), and two of those names are
uue's with another meaning (`push_to_hub`, `warmup_ratio`), so MLflow refused the batch of params and
the run lost them. The arguments are an artifact instead (`training_args.json`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import datasets
import mlflow

from uue.tracking import dataset_input, log_triplets_input
from uue.trainers.student_config import TrainConfig

# Teacher-written labels and ids; never `context`, the user's own text
SAMPLE_COLUMNS = ("triplet_id", "user_id", "positive", "positive_broad", "negative")
SAMPLE_ROWS = 20


def log_training_inputs(train_data, valid_set: datasets.Dataset, config: TrainConfig) -> None:
    """The run's datasets in MLflow's Datasets panel (name, digest, source): synth -> train -> bench
    link by the digest of the same triplets."""
    source = str((config.triplets or config.histories).resolve())
    parts = train_data if isinstance(train_data, dict) else {"train": train_data}
    for name, part in {**parts, "validation": valid_set}.items():
        if len(part) == 0:  # triplets of training users only (`uue synth --user-side train`)
            continue
        dataset = dataset_input(part, source, f"{Path(source).name}/{name}")
        mlflow.log_input(dataset, context="validation" if name == "validation" else "training")


def bench_metrics(figures: dict[int | None, dict[str, float]]) -> dict[str, float]:
    """The final bench as MLflow metric keys: `bench/[dim<d>/]<protocol>_recall_at_1`."""
    return {
        f"bench/{f'dim{dim}/' if dim else ''}{key.replace('@', '_at_')}": value
        for dim, values in figures.items()
        for key, value in values.items()
    }


def log_triplets_dataset(triplets_dir: Path, table: datasets.Dataset) -> None:
    """The whole `uue synth` folder as a training input (the name, source and digest `uue synth` and
    `uue bench` log for it: the UI links the runs), its report and sample rows."""
    log_triplets_input(triplets_dir, "training", table)
    log_teacher_report(triplets_dir)
    log_sample_triplets(table)


def log_teacher_report(triplets_dir: Path) -> None:
    """`uue synth`'s report.json as an artifact (a few kB: too long for a tag)."""
    report = Path(triplets_dir) / "report.json"
    if report.is_file():
        mlflow.log_dict(json.loads(report.read_text()), "teacher_report.json")


def log_sample_triplets(table: datasets.Dataset) -> None:
    """The first triplets' ids and teacher-written labels as a table in the run's artifacts."""
    columns = [c for c in SAMPLE_COLUMNS if c in table.column_names]
    sample = table.select(range(min(SAMPLE_ROWS, len(table)))).select_columns(columns)
    mlflow.log_table(sample.to_dict(), artifact_file="sample_triplets.json")


def mlflow_metrics_callback() -> Any:
    """A transformers `TrainerCallback` logging every trainer log (loss, learning rate, evaluator
    metrics) to the active MLflow run at its step, and the trainer's arguments as an artifact."""
    from transformers import TrainerCallback  # seconds to import: only a training run needs it

    class MlflowMetrics(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                mlflow.log_dict(json.loads(args.to_json_string()), "training_args.json")  # tokens masked

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero:
                mlflow.log_metrics(metric_values(logs or {}), step=state.global_step)

    return MlflowMetrics()


def metric_values(logs: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of a trainer log under names MLflow accepts (`mrr@10` -> `mrr_10`, as transformers
    names them)."""
    return {
        re.sub(r"[^0-9A-Za-z_\-. :/]", "_", key): float(value)
        for key, value in logs.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
