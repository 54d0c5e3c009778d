"""Plots of a training run: loss and validation metrics per step from the trainer's log history, and
the final bench per Matryoshka dim; a figure without numbers is skipped."""

from __future__ import annotations

from pathlib import Path

import mlflow

from uue.tracking import tracked_run
from uue.trainers.train_plots import dims_figure, eval_metrics_figure, log_training_plots, loss_figure

HISTORY = [
    {"loss": 2.1, "grad_norm": 3.0, "learning_rate": 1e-5, "epoch": 0.5, "step": 10},
    {"eval_loss": 1.9, "eval_valid_cosine_accuracy": 0.7, "eval_valid-retrieval_cosine_mrr@10": 0.4,
     "eval_runtime": 1.2, "eval_samples_per_second": 50.0, "epoch": 0.5, "step": 10},
    {"loss": 1.5, "epoch": 1.0, "step": 20},
    {"eval_loss": 1.4, "eval_valid_cosine_accuracy": 0.8, "eval_valid-retrieval_cosine_mrr@10": 0.5,
     "eval_runtime": 1.1, "eval_samples_per_second": 51.0, "epoch": 1.0, "step": 20},
    {"train_runtime": 9.0, "train_loss": 1.8, "epoch": 1.0, "step": 20},
]  # fmt: skip
BENCH = {384: {"full_recall@1": 0.5, "full_mrr": 0.6}, 32: {"full_recall@1": 0.3, "full_mrr": 0.4}}


def _labels(figure) -> list[str]:
    return [line.get_label() for line in figure.axes[0].get_lines()]


def test_curves_hold_the_loss_and_the_validation_metrics_but_not_the_bookkeeping():
    assert _labels(loss_figure(HISTORY)) == ["train", "validation"]
    assert list(loss_figure(HISTORY).axes[0].get_lines()[0].get_xdata()) == [10, 20]
    assert _labels(eval_metrics_figure(HISTORY)) == ["valid-retrieval_cosine_mrr@10", "valid_cosine_accuracy"]


def test_the_dims_figure_has_one_bar_per_dim_and_metric_and_needs_two_dims():
    bars = dims_figure(BENCH).axes[0].patches
    assert sorted(round(bar.get_height(), 2) for bar in bars) == [0.3, 0.4, 0.5, 0.6]
    assert dims_figure({None: BENCH[384]}) is None and dims_figure({}) is None
    assert dims_figure({384: {"full_mrr": 0.6}, 32: {}}) is None  # a figure missing for a dim


def test_figures_are_logged_as_pngs_and_empty_ones_skipped(tmp_path):
    with tracked_run("plots-test", "plots", uri=f"sqlite:///{tmp_path / 'mlflow.db'}") as run:
        log_training_plots(HISTORY, BENCH)
    artifacts = Path(run.info.artifact_uri.removeprefix("file://")) / "plots"
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "eval_metrics.png",
        "matryoshka_dims.png",
        "training_loss.png",
    ]
    assert (artifacts / "training_loss.png").read_bytes()[:4] == b"\x89PNG"
    with tracked_run("plots-test", "no-numbers", uri=f"sqlite:///{tmp_path / 'mlflow.db'}") as run:
        log_training_plots([{"train_runtime": 1.0, "step": 0}], {})
    assert not mlflow.MlflowClient().list_artifacts(run.info.run_id)
