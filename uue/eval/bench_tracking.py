"""What `uue bench` logs to its MLflow run, so the UI compares benches without opening report.json.

Params: the bench config (and the task config, `task.*`). Input: the triplets folder as the same MLflow
dataset `uue synth` logged as its output and `uue train` as its training input (one digest, so the
Datasets panels link the three runs). Metrics: every estimate of the report, mean and interval bounds,
named by their path (`minilm/sampled/recall_at_1/mean`, `tasks/runs_best/reid/mean/reid/mrr/ci_low`).
Figures: the paired differences of the trained models with their intervals, and with `--task` a 2-D map
of each trained model's held-out users coloured by top community (`uue.eval.user_map`). A bench of trained models
names their train runs (`uue_provenance.json`); with one, the bench run is that run's child.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uue.eval.bench import BenchConfig, BenchReport, is_baseline
from uue.eval.embedders import DenseEmbedder, Embedder
from uue.eval.tasks import TaskConfig, held_out_histories
from uue.eval.user_map import user_map_figure
from uue.tracking import config_params, log_triplets_input

if TYPE_CHECKING:
    import datasets

PARTS = ("mean", "ci_low", "ci_high")
BATCH = 1000  # MLflow's most metrics in one log_batch call


def log_bench(
    config: BenchConfig,
    report: BenchReport,
    task_config: TaskConfig | None = None,
    embedders: Mapping[str, Embedder] | None = None,
    table: datasets.Dataset | None = None,
) -> None:
    """`table`: the triplets when the caller has them loaded (else read from `config.triplets`)."""
    import mlflow

    params = config_params(config)
    if task_config is not None:
        params |= {f"task.{k}": v for k, v in config_params(task_config).items()}
    mlflow.log_params(params)
    log_triplets_input(config.triplets, "evaluation", table)
    link_train_runs(config.models)
    metrics = bench_metrics(report)
    names = sorted(metrics)
    for start in range(0, len(names), BATCH):
        mlflow.log_metrics({name: metrics[name] for name in names[start : start + BATCH]})
    mlflow.log_dict(report.model_dump(mode="json"), "report.json")
    figure = differences_figure(report)
    if figure is not None:
        mlflow.log_figure(figure, "paired_differences.png")
    if task_config is not None:
        log_user_maps(embedders or {}, task_config)


def log_user_maps(embedders: Mapping[str, Embedder], task_config: TaskConfig) -> None:
    """`user_map/<model>.png` of each trained dense model (the held-out users of the tasks)."""
    import mlflow

    trained = {
        spec: e for spec, e in embedders.items() if not is_baseline(spec) and isinstance(e, DenseEmbedder)
    }
    if not trained:
        return
    histories = held_out_histories(task_config)
    for spec, embedder in trained.items():
        figure = user_map_figure(embedder, histories, Path(spec).name)
        if figure is not None:
            mlflow.log_figure(figure, f"user_map/{metric_key(spec)}.png")


def metric_key(*path: str) -> str:
    """An MLflow metric name of a report path: `/` separates its parts, so a part's own `/` and `:` (a
    model folder, `two-tower:DIR`) become `_` and a part keeps its last 60 characters (MLflow refuses a
    name that reads as an absolute path)."""
    return "/".join(part.replace("@", "_at_").replace(":", "_").replace("/", "_")[-60:] for part in path)


def estimates(
    nested: Mapping[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict]]:
    """(path, estimate) of every {"mean", "ci_low", "ci_high"} leaf of a nested report dict."""
    for key, value in nested.items():
        if isinstance(value, Mapping) and "mean" in value and "ci_low" in value:
            yield (*path, key), value
        elif isinstance(value, Mapping):
            yield from estimates(value, (*path, key))


def bench_metrics(report: BenchReport) -> dict[str, float]:
    """Every estimate of the report (triplets, comparisons, tasks) as flat MLflow metrics."""
    sections: dict[str, Mapping[str, Any]] = {
        "": {model: {p: result[p] for p in ("sampled", "full")} for model, result in report.models.items()},
        "differences": report.comparisons,
    }
    if report.tasks is not None:
        sections |= {"tasks": report.tasks.results, "task-differences": report.tasks.comparisons}
    metrics = {}
    for section, nested in sections.items():
        for path, estimate in estimates(nested):
            for part in PARTS:
                if estimate.get(part) is not None:
                    metrics[metric_key(*filter(None, (section, *path, part)))] = float(estimate[part])
    return metrics


def train_runs(models: Sequence[str]) -> list[str]:
    """The MLflow run ids of the trained models among `models` (their `uue_provenance.json`)."""
    found = []
    for model in models:
        provenance = Path(model) / "uue_provenance.json"
        if provenance.is_file():
            run_id = json.loads(provenance.read_text()).get("mlflow_run_id")
            if run_id:
                found.append(run_id)
    return found


def link_train_runs(models: Sequence[str]) -> None:
    """Tag the bench run with the train runs it measured; one train run becomes its parent."""
    import mlflow

    runs = train_runs(models)
    if runs:
        mlflow.set_tag("uue.train_runs", ",".join(runs))
    if len(runs) == 1:
        mlflow.set_tag("mlflow.parentRunId", runs[0])  # MLflow's own parent link (the UI nests on it)


def difference_rows(report: BenchReport) -> list[tuple[str, dict]]:
    """(label, estimate) of each paired difference worth a glance: MRR and Recall@1 of every protocol
    and task, of every trained model against every other model."""
    rows = []
    sections = [report.comparisons] + ([report.tasks.comparisons] if report.tasks is not None else [])
    for section in sections:
        for path, estimate in estimates(section):
            if path[-1] in ("mrr", "recall@1", "recall@10", "auc"):
                rows.append((" · ".join(dict.fromkeys(path)), estimate))
    return rows


def differences_figure(report: BenchReport):
    """A forest plot of `difference_rows` (mean, 95% interval, 0 marked); None when nothing is compared."""
    rows = difference_rows(report)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 0.3 * len(rows) + 1.2))
    for y, (_, estimate) in enumerate(rows):
        axes.plot([estimate["ci_low"], estimate["ci_high"]], [y, y], color="tab:blue")
        axes.plot(estimate["mean"], y, "o", color="tab:blue")
    axes.axvline(0, color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("paired difference (trained - other), 95% bootstrap interval")
    figure.tight_layout()
    return figure
