"""Plots of a `uue train` run for MLflow: the loss and validation metrics per step (from the trainer's
`state.log_history`), and the final bench per Matryoshka dim. matplotlib is imported when a figure is
drawn: only a finished training run needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mlflow

# Per-step bookkeeping of the trainer, not figures of the model
NOT_EVAL_METRICS = ("eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval_loss")


def log_training_plots(
    history: list[dict[str, Any]], bench: Mapping[int | None, Mapping[str, float]]
) -> None:
    """The trainer's `state.log_history` as loss and eval-metric curves per step, and the final
    bench per Matryoshka dim as bars (each figure only where its numbers exist)."""
    figures = {
        "plots/training_loss.png": loss_figure(history),
        "plots/eval_metrics.png": eval_metrics_figure(history),
        "plots/matryoshka_dims.png": dims_figure(bench),
    }
    for artifact, figure in figures.items():
        if figure is not None:
            mlflow.log_figure(figure, artifact)


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(entry["step"], entry[key]) for entry in history if key in entry and "step" in entry]
    return [step for step, _ in points], [value for _, value in points]


def _figure(title: str, xlabel: str, ylabel: str):
    # The object API, not pyplot: no global figure state and no GUI backend; PNGs render with Agg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps and dims are whole numbers
    return figure, axes


def loss_figure(history: list[dict[str, Any]]):
    steps, losses = _series(history, "loss")
    if not steps:
        return None
    figure, axes = _figure("Training loss", "step", "loss")
    axes.plot(steps, losses, marker="o", label="train")
    eval_steps, eval_losses = _series(history, "eval_loss")
    if eval_steps:
        axes.plot(eval_steps, eval_losses, marker="s", label="validation")
    axes.legend()
    return figure


def eval_metrics_figure(history: list[dict[str, Any]]):
    names = sorted(
        {k for entry in history for k in entry if k.startswith("eval_") and k not in NOT_EVAL_METRICS}
    )
    if not names:
        return None
    figure, axes = _figure("Validation metrics per evaluation", "step", "value")
    for name in names:
        axes.plot(*_series(history, name), marker="o", label=name.removeprefix("eval_"))
    axes.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1, 0.5))
    return figure


def dims_figure(bench: Mapping[int | None, Mapping[str, float]], metrics=("full_recall@1", "full_mrr")):
    """Grouped bars: one group per Matryoshka dim, one bar per metric (None without dims)."""
    dims = sorted(d for d in bench if d is not None)
    shown = [m for m in metrics if all(m in bench[d] for d in dims)]
    if len(dims) < 2 or not shown:
        return None
    figure, axes = _figure("Final bench per Matryoshka dim (held-out users)", "embedding dim", "value")
    width = 0.8 / len(shown)
    for i, metric in enumerate(shown):
        positions = [x + i * width for x in range(len(dims))]
        axes.bar(positions, [bench[d][metric] for d in dims], width, label=metric)
    axes.set_xticks([x + width * (len(shown) - 1) / 2 for x in range(len(dims))], [str(d) for d in dims])
    axes.legend()
    return figure
