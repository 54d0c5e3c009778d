"""Downstream user tasks on held-out users (`uue bench --task ...`), all full-ranking.

* `reid` (Q/Q): each user's history split in time into two disjoint halves; the older half is the
  query, every user's newer half a candidate; the same user is the target.
* `interests`: for each held-out triplet, the user's history minus that triplet's cluster is the
  query; candidates are every distinct specific summary (or broad label) of held-out users, the
  user's *other* summaries removed; the triplet's own summary is the target.
* `next-subreddit` (zero-shot): the history minus its last activity is the query; candidates are the
  names `r/<sub>` of every subreddit seen among held-out users; the last activity's subreddit is the
  target. Subreddit-name embeddings need no training data and work for BM25 too; per-subreddit
  centroids of other users' activities would leak the training users' text into the candidates.
* `statements` (seed 003): held-out users against the teacher's labels as free-text statements:
  retrieval (Recall@10, F1@10) and zero-shot inference on statements no training user had (AUC,
  F1@R); needs `--labels` (`uue.eval.statements`).
* `space`: anisotropy and effective rank of the held-out users' vectors (`uue.eval.space`).

Held-out users are `split_users(..., valid_fraction, seed).valid`, the same function `uue train` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from uue.config import Config
from uue.datasets.histories import activity_owners, iter_histories
from uue.datasets.records import History
from uue.errors import ConfigError
from uue.eval.embedders import DenseEmbedder, Embedder
from uue.eval.metrics import BENCH_METRICS, bootstrap_ci, per_query, ranks_of_target
from uue.eval.space import space_differences, space_figures
from uue.eval.split import is_held_out
from uue.eval.statements import StatementSet, statement_set, statement_task_values
from uue.eval.user_vectors import Pooling, pooled_vectors, score_histories
from uue.programs.labels import read_labels


class Task(str, Enum):
    reid = "reid"
    interests = "interests"
    next_subreddit = "next-subreddit"
    statements = "statements"
    space = "space"


class TaskConfig(Config):
    histories: Path = Field(description="Directory written by `uue ingest`")
    triplets: Path | None = Field(None, description="Triplets directory (needed by `interests`)")
    labels: Path | None = Field(
        None,
        description="Teacher labels, labels.jsonl of `uue synth --mode activity` (needed by `statements`)",
    )
    valid_fraction: float = Field(
        0.1, gt=0, lt=1, description="Held-out share of users (same split as training)"
    )
    split_seed: int = Field(0, description="Seed of the user-level split")
    max_users: int | None = Field(500, ge=2, description="Use at most N held-out users")
    min_activities: int = Field(4, ge=2, description="Skip users with fewer activities")
    poolings: list[Pooling] = Field(default_factory=lambda: [Pooling.mean, Pooling.recency])
    max_windows: int = Field(16, ge=1, description="Newest windows of a history pooled into its vector")
    resamples: int = Field(1000, ge=10)
    seed: int = 0


class TaskReport(BaseModel):
    """The user tasks of one bench: estimates nested {model: {task: {pooling: {variant: {metric:
    estimate}}}}}, and the paired differences of each trained model against every other model."""

    results: dict[str, dict[str, Any]]
    comparisons: dict[str, dict[str, Any]]  # "trained - baseline" -> the same nesting
    users: int  # held-out users ranked


def held_out_histories(config: TaskConfig) -> list[History]:
    out = []
    for history in iter_histories(config.histories):
        if len(history.activities) >= config.min_activities and is_held_out(
            history.user_id, config.valid_fraction, config.split_seed
        ):
            out.append(history)
            if config.max_users and len(out) >= config.max_users:
                break
    if len(out) < 2:
        raise ConfigError(
            f"only {len(out)} held-out users with >= {config.min_activities} activities",
            hint="raise --valid-fraction or use more histories",
        )
    return out


def reid_ranks(
    embedder: Embedder, histories: list[History], poolings: Sequence[Pooling], max_windows: int = 16
) -> dict:
    halves = [
        (h.activities[: len(h.activities) // 2], h.activities[len(h.activities) // 2 :]) for h in histories
    ]
    queries, docs = [a for a, _ in halves], [b for _, b in halves]
    scores = score_histories(embedder, queries, docs, poolings, max_windows)  # [n, n]
    return {p: ranks_of_target(s, np.arange(len(histories))) for p, s in scores.items()}


def next_subreddit_ranks(
    embedder: Embedder, histories: list[History], poolings: Sequence[Pooling], max_windows: int = 16
) -> dict:
    subs = sorted({a.context.community for h in histories for a in h.activities if a.context.community})
    at = {s: i for i, s in enumerate(subs)}
    kept = [h for h in histories if h.activities[-1].context.community in at]
    scores = score_histories(
        embedder, [h.activities[:-1] for h in kept], [f"r/{s}" for s in subs], poolings, max_windows
    )  # [n, S]
    target = np.array([at[h.activities[-1].context.community] for h in kept])
    return {p: ranks_of_target(s, target) for p, s in scores.items()}


def interest_ranks(
    embedder: Embedder, histories: list[History], triplets, poolings: Sequence[Pooling], max_windows: int = 16
) -> dict[Pooling, dict[str, np.ndarray]]:
    """{pooling: {"specific": ranks, "broad": ranks}}: one encoding of the queries for both."""
    by_user = {h.user_id: h for h in histories}
    rows = [r for r in triplets if r["user_id"] in by_user]
    if len(rows) < 2:
        raise ConfigError(
            "fewer than 2 triplets belong to held-out users with histories",
            hint="check --histories matches --triplets",
        )
    queries = []
    for r in rows:
        cluster = set(r["cluster_activity_ids"])
        queries.append([a for a in by_user[r["user_id"]].activities if a.activity_id not in cluster])
    if isinstance(embedder, DenseEmbedder):
        query_vectors = pooled_vectors(queries, embedder, poolings, max_windows=max_windows)
    out: dict[Pooling, dict[str, np.ndarray]] = {}
    for name, column in (("specific", "positive"), ("broad", "positive_broad")):
        labels = sorted({r[column] for r in rows})
        at = {s: i for i, s in enumerate(labels)}
        if isinstance(embedder, DenseEmbedder):
            label_vectors = embedder.encode_documents(labels)  # [L, d]
            scores = {p: query_vectors[p] @ label_vectors.T for p in poolings}  # [n, L]
        else:
            scores = score_histories(embedder, queries, labels, poolings, max_windows)
        own: dict[str, set[int]] = {}
        for r in rows:
            own.setdefault(r["user_id"], set()).add(at[r[column]])
        target = np.array([at[r[column]] for r in rows])
        valid = np.ones((len(rows), len(labels)), dtype=bool)
        for i, r in enumerate(rows):
            valid[i, list(own[r["user_id"]] - {target[i]})] = False
        for pooling, pooled in scores.items():
            out.setdefault(pooling, {})[name] = ranks_of_target(pooled, target, valid)
    return out


def task_ranks(
    task: Task, embedder: Embedder, config: TaskConfig, histories: list[History], triplets=None
) -> dict[str, dict[str, np.ndarray]]:
    """{pooling: {variant: per-user ranks}}; variant is `specific`/`broad` for interests, else the task."""
    poolings = config.poolings if isinstance(embedder, DenseEmbedder) else [Pooling.last]
    if task is Task.reid:
        found = {
            p: {"reid": r} for p, r in reid_ranks(embedder, histories, poolings, config.max_windows).items()
        }
    elif task is Task.next_subreddit:
        found = {
            p: {"next-subreddit": r}
            for p, r in next_subreddit_ranks(embedder, histories, poolings, config.max_windows).items()
        }
    else:
        if triplets is None:
            raise ConfigError("the interests task needs --triplets")
        found = interest_ranks(embedder, histories, triplets, poolings, config.max_windows)
    return {pooling.value: variants for pooling, variants in found.items()}


def task_values(
    task: Task,
    embedder: Embedder,
    config: TaskConfig,
    histories: list[History],
    triplets=None,
    statements: StatementSet | None = None,
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """{pooling: {variant: {metric: per-query values}}} of one task (not `space`, which has no queries)."""
    if task is Task.statements:
        if statements is None:
            raise ConfigError("the statements task needs --labels")
        poolings = config.poolings if isinstance(embedder, DenseEmbedder) else [Pooling.last]
        return {p.value: statement_task_values(embedder, statements, p, config.max_windows) for p in poolings}
    found = task_ranks(task, embedder, config, histories, triplets)
    return {
        pooling: {variant: per_query(r, BENCH_METRICS) for variant, r in variants.items()}
        for pooling, variants in found.items()
    }


def statement_inputs(config: TaskConfig, histories: list[History]) -> StatementSet:
    if config.labels is None:
        raise ConfigError(
            "the statements task needs --labels", hint="labels.jsonl of `uue synth --mode activity`"
        )
    labels = read_labels(config.labels)
    return statement_set(histories, labels, activity_owners(config.histories), config.valid_fraction,
                         config.split_seed)  # fmt: skip


def run_tasks(
    tasks: Sequence[Task],
    embedders: dict[str, Embedder],
    config: TaskConfig,
    triplets=None,
    trained: Sequence[str] = (),
    on_model: Callable[[str], None] | None = None,
) -> TaskReport:
    """Every task for every embedder on the held-out users, each metric with "n"; `trained` names the
    models compared against the others (paired per user); `on_model(spec)` after each model."""
    histories = held_out_histories(config)
    statements = statement_inputs(config, histories) if Task.statements in tasks else None
    # Per model, the per-query values of every (task, pooling, variant): flat keys, nested for the report.
    values: dict[str, dict[tuple[str, str, str], dict[str, np.ndarray]]] = {}
    vectors: dict[str, dict[str, np.ndarray]] = {}  # the `space` task's user vectors, dense models only
    for spec, embedder in embedders.items():
        values[spec] = {}
        for task in tasks:
            if task is Task.space:
                if isinstance(embedder, DenseEmbedder):
                    activities = [h.activities for h in histories]
                    pooled = pooled_vectors(
                        activities, embedder, config.poolings, max_windows=config.max_windows
                    )
                    vectors[spec] = {p.value: v for p, v in pooled.items()}
                continue
            for pooling, variants in task_values(
                task, embedder, config, histories, triplets, statements
            ).items():
                for variant, found in variants.items():
                    values[spec][(task.value, pooling, variant)] = found
        if on_model:
            on_model(spec)

    def count(n: int) -> dict:
        return {"n": {"mean": n, "ci_low": n, "ci_high": n}}  # the shape of an estimate, for the report

    def summary(found: dict[str, np.ndarray]) -> dict:
        n = len(next(iter(found.values())))
        return {
            k: bootstrap_ci(v, config.resamples, config.seed).as_dict() for k, v in found.items()
        } | count(n)

    def paired(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> dict:
        return {
            k: bootstrap_ci(v - theirs[k], config.resamples, config.seed).as_dict() for k, v in ours.items()
        }

    def space(ours: np.ndarray, theirs: np.ndarray | None = None) -> dict:
        found = (
            space_figures(ours, config.resamples, config.seed)
            if theirs is None
            else space_differences(ours, theirs, config.resamples, config.seed)
        )
        return {k: e.as_dict() for k, e in found.items()} | count(len(ours))

    results = {
        spec: _nested((key, summary(v)) for key, v in by_key.items()) for spec, by_key in values.items()
    }
    for spec, by_pooling in vectors.items():
        results[spec]["space"] = {p: {"space": space(v)} for p, v in by_pooling.items()}
    comparisons = {}
    for ours in trained:
        for theirs in values:
            if theirs in trained:
                continue
            pair = _nested((key, paired(v, values[theirs][key])) for key, v in values[ours].items()
                           if key in values[theirs])  # fmt: skip
            if ours in vectors and theirs in vectors:
                pair["space"] = {p: {"space": space(v, vectors[theirs][p])} for p, v in vectors[ours].items()}
            comparisons[f"{ours} - {theirs}"] = pair
    return TaskReport(results=results, comparisons=comparisons, users=len(histories))


def _nested(items: Iterable[tuple[tuple[str, str, str], dict]]) -> dict:
    """{(task, pooling, variant): value} pairs as {task: {pooling: {variant: value}}}."""
    out: dict = {}
    for (task, pooling, variant), value in items:
        out.setdefault(task, {}).setdefault(pooling, {})[variant] = value
    return out
