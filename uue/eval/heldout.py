"""The held-out table of the student: every model against base MiniLM on the same held-out users.

Rows (all on users the students never saw, the `split_users` hash split):
* `interests/specific`, `interests/broad`: a held-out user's history minus one labelled thread is the
  query; every distinct held-out label (specific or broad) is a candidate, the user's other labels
  removed; full ranking.
* `reid`: the older half of a history retrieves the newer half among all held-out users.
* `next-subreddit`: the history minus its last activity ranks every subreddit name.
* `triplets`: the triplet's query against its positive, its negative and 9 other users' positives.
Each figure is a mean with a 95% bootstrap interval, and `delta` is the paired difference against
the baseline (`minilm`) over the same queries: an interval above 0 means better on these users.
Dense models pool their windows with `pooling` (mean by default); BM25 reads the newest window.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import datasets
import numpy as np
from pydantic import BaseModel, Field

from uue.config import Config
from uue.eval.bench import BenchConfig, evaluate_model, load_triplets
from uue.eval.embedders import DenseEmbedder, Embedder
from uue.eval.metrics import BENCH_METRICS, bootstrap_ci, paired_differences, per_query
from uue.eval.split import is_held_out
from uue.eval.tasks import Task, TaskConfig, held_out_histories, task_ranks
from uue.eval.user_vectors import Pooling
from uue.provenance import sha256_text

HEADLINE_METRICS = ("recall@1", "mrr")


class HeldOutConfig(Config):
    histories: Path = Field(description="Directory written by `uue ingest`")
    triplets: Path = Field(description="Directory written by `uue synth` (triplets/)")
    valid_fraction: float = Field(0.2, gt=0, lt=1, description="Held-out share of users (as `uue train`)")
    split_seed: int = 0
    max_users: int = Field(300, ge=2, description="Held-out users of the user tasks")
    max_windows: int = Field(4, ge=1, description="Newest 256-token windows pooled per history")
    pooling: Pooling = Pooling.mean
    baseline: str = Field("minilm", description="The model every other one is compared with")
    resamples: int = Field(1000, ge=10)
    seed: int = 0


class Figure(BaseModel):
    mean: float
    ci_low: float
    ci_high: float


class Row(BaseModel):
    """One (task, metric) of one model: its value and its paired difference against the baseline."""

    task: str
    metric: str
    model: str
    n: int
    value: Figure
    delta: Figure | None  # None for the baseline itself


class HeldOutReport(BaseModel):
    config: HeldOutConfig
    users: int
    triplets: int
    rows: list[Row]

    def row(self, task: str, metric: str, model: str) -> Row:
        return next(r for r in self.rows if (r.task, r.metric, r.model) == (task, metric, model))


def held_out_triplets(config: HeldOutConfig) -> datasets.Dataset:
    table = load_triplets(config.triplets)
    keep = [
        i
        for i, user in enumerate(table["user_id"])
        if is_held_out(user, config.valid_fraction, config.split_seed)
    ]
    return table.select(keep)


def model_ranks(
    embedder: Embedder, spec: str, config: HeldOutConfig, histories, table
) -> dict[str, np.ndarray]:
    """{task: per-query ranks} for one model."""
    tasks = TaskConfig(
        histories=config.histories,
        valid_fraction=config.valid_fraction,
        split_seed=config.split_seed,
        max_users=config.max_users,
        poolings=[config.pooling],
        max_windows=config.max_windows,
        seed=config.seed,
    )
    pooling = config.pooling.value if isinstance(embedder, DenseEmbedder) else Pooling.last.value
    ranks: dict[str, np.ndarray] = {}
    for task in (Task.interests, Task.reid, Task.next_subreddit):
        found = task_ranks(task, embedder, tasks, histories, table if task is Task.interests else None)
        for variant, r in found[pooling].items():
            ranks[f"interests/{variant}" if task is Task.interests else task.value] = r
    bench = BenchConfig(triplets=config.triplets, distractors=9, seed=config.seed, resamples=config.resamples)
    ranks["triplets"] = evaluate_model(embedder, spec, table, bench).sampled_ranks
    return ranks


def _cache_key(spec: str, config: HeldOutConfig) -> str:
    """Model, its training provenance (a retrained folder is a new model), the bench settings and the
    data: the reports of the triplets and the histories change whenever they are rebuilt."""

    def text(path: Path) -> str:
        return path.read_text() if path.is_file() else ""

    folder = spec.removeprefix("two-tower:")  # a two-tower folder records how it was made in report.json
    made = text(Path(folder) / "uue_provenance.json") + text(Path(folder) / "report.json")
    parts = [spec, config.model_dump(mode="json"), made]
    parts += [text(config.triplets / "report.json"), text(config.histories / "report.json")]
    return sha256_text(json.dumps(parts, default=str))[:16]


def held_out_report(
    embedders: dict[str, Callable[[], Embedder]], config: HeldOutConfig, cache_dir: Path | None = None
) -> HeldOutReport:
    """Every model's rows; `embedders` maps each spec to a loader and must include `config.baseline`.
    With `cache_dir`, a model's ranks are kept there and reused while model and settings are unchanged."""
    histories = held_out_histories(
        TaskConfig(histories=config.histories, valid_fraction=config.valid_fraction,
                   split_seed=config.split_seed, max_users=config.max_users)
    )  # fmt: skip
    table = held_out_triplets(config)
    ranks = {}
    for spec, load in embedders.items():
        cached = cache_dir / f"{_cache_key(spec, config)}.npz" if cache_dir else None
        if cached is not None and cached.is_file():
            ranks[spec] = dict(np.load(cached))
            continue
        ranks[spec] = model_ranks(load(), spec, config, histories, table)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cached, **ranks[spec])
    base = ranks[config.baseline]
    rows = []
    for spec, by_task in ranks.items():
        for task, r in by_task.items():
            values = per_query(r, BENCH_METRICS)
            deltas = (
                None
                if spec == config.baseline
                else paired_differences(r, base[task], config.resamples, config.seed)
            )
            for metric in HEADLINE_METRICS:
                value = bootstrap_ci(values[metric], config.resamples, config.seed)
                delta = deltas[metric] if deltas else None
                rows.append(
                    Row(
                        task=task,
                        metric=metric,
                        model=spec,
                        n=len(r),
                        value=Figure(mean=value.mean, ci_low=value.ci_low, ci_high=value.ci_high),
                        delta=Figure(mean=delta.mean, ci_low=delta.ci_low, ci_high=delta.ci_high)
                        if delta
                        else None,
                    )
                )
    return HeldOutReport(config=config, users=len(histories), triplets=len(table), rows=rows)


def markdown_table(report: HeldOutReport, names: dict[str, str] | None = None) -> str:
    """Rows = (task, metric), columns = models: `mean [low, high]`, and `Δ` against the baseline."""
    names = names or {}
    models = list(dict.fromkeys(r.model for r in report.rows))
    keys = list(dict.fromkeys((r.task, r.metric) for r in report.rows))
    header = "| held-out | " + " | ".join(names.get(m, m) for m in models) + " |"
    lines = [header, "|---" * (len(models) + 1) + "|"]
    for task, metric in keys:
        cells = []
        for model in models:
            r = report.row(task, metric, model)
            cell = f"{r.value.mean:.3f}"
            if r.delta is not None:
                cell += f" (Δ {r.delta.mean:+.3f} [{r.delta.ci_low:+.3f}, {r.delta.ci_high:+.3f}])"
            cells.append(cell)
        n = report.row(task, metric, models[0]).n
        lines.append(f"| {task} {metric} (n={n}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)
