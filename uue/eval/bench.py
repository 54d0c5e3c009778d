"""`uue bench`: is the teacher's task hard for off-the-shelf embedders? (seed 000, Step 2)

For every triplet the context is the query, the positive the target, and the candidates are the
target, the triplet's negative and `distractors` positives of *other* users sampled with a seed
(the "sampled" protocol of seed 000). Beside it, the "full" protocol ranks the target against every
distinct positive in the set, the same user's other positives removed (STYLE 11).

Why not `InformationRetrievalEvaluator`: it ranks every query against one shared corpus, while the
sampled protocol gives each query its own candidates, and it only drives `SentenceTransformer`s, not
BM25 or litellm. One numpy path scores all embedders the same way; `TripletEvaluator` (positive vs
negative only) is what `uue train` runs on validation.

Verdict: a "red flag" when the best *baseline* (every model without `uue_provenance.json`, i.e. not
trained by `uue train`) reaches `red_flag_recall_at_1` on the sampled protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from pydantic import BaseModel, Field

from uue.config import Config
from uue.errors import InputError
from uue.eval.embedders import DenseEmbedder, Embedder, make_embedder
from uue.eval.metrics import (
    BENCH_METRICS,
    Estimate,
    bootstrap_ci,
    paired_differences,
    per_query,
    ranks_of_target,
)
from uue.eval.split import is_held_out
from uue.eval.tasks import TaskReport


class BenchConfig(Config):
    triplets: Path = Field(description="Directory written by `uue synth` (holds triplets/ and report.json)")
    models: list[str] = Field(
        default_factory=lambda: ["bm25", "minilm"], min_length=1, description="--model strings"
    )
    distractors: int = Field(9, ge=0, description="Positives of other users added to each query's candidates")
    seed: int = Field(0, description="Distractor sampling and bootstrap seed")
    resamples: int = Field(1000, ge=10, description="Bootstrap resamples for the 95% intervals")
    red_flag_recall_at_1: float = Field(
        0.8, gt=0, le=1, description="Best baseline Recall@1 at or above this is a red flag"
    )
    easiest: int = Field(10, ge=0, description="How many easiest triplets the report lists")
    max_triplets: int | None = Field(None, ge=1, description="Use only the first N triplets (smoke runs)")
    full_ranking: bool = Field(True, description="Also rank against every distinct positive")
    valid_fraction: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Bench only the triplets of held-out users, the share `uue train --valid-fraction` "
        "keeps out (None: every triplet)",
    )
    split_seed: int = Field(0, description="Seed of the user split (as `uue train`)")
    out: Path | None = Field(
        None, description="Where report.json goes (default: TRIPLETS.bench beside the input)"
    )
    track: bool = Field(True, description="Log the bench to MLflow (experiment uue-bench)")


def load_triplets(directory: str | Path, max_triplets: int | None = None) -> datasets.Dataset:
    path = Path(directory) / "triplets"
    if not path.is_dir():
        raise InputError(str(directory), "no triplets/ here", hint="create them with `uue synth`")
    table = datasets.load_from_disk(str(path))
    if len(table) == 0:
        raise InputError(str(directory), "no triplets in this directory (the synth run wrote none)",
                         hint="see its report.json for why: failures, labels, users")  # fmt: skip
    return table.select(range(min(max_triplets, len(table)))) if max_triplets else table


@dataclass(frozen=True)
class Candidates:
    """Per-query candidates as indices into `pool`; column 0 is the target, column 1 the negative."""

    pool: list[str]
    index: np.ndarray  # [n, 2 + distractors] int
    valid: np.ndarray  # [n, 2 + distractors] bool, False where too few distractors existed


def sampled_candidates(
    positives: list[str], negatives: list[str], users: list[str], distractors: int, seed: int
) -> Candidates:
    pool = list(dict.fromkeys([*positives, *negatives]))
    at = {text: i for i, text in enumerate(pool)}
    pos_ids = np.array([at[p] for p in positives])
    rng = np.random.default_rng(seed)
    index = np.zeros((len(positives), 2 + distractors), dtype=np.int64)
    valid = np.ones_like(index, dtype=bool)
    users_arr = np.array(users)
    for i, (pos, neg, user) in enumerate(zip(positives, negatives, users, strict=True)):
        index[i, 0], index[i, 1] = at[pos], at[neg]
        allowed = np.unique(pos_ids[(users_arr != user)])
        allowed = allowed[(allowed != at[pos]) & (allowed != at[neg])]
        take = rng.choice(allowed, size=min(distractors, len(allowed)), replace=False) if len(allowed) else []
        index[i, 2 : 2 + len(take)] = take
        valid[i, 2 + len(take) :] = False
    return Candidates(pool, index, valid)


def score_pool(embedder: Embedder, queries: list[str], pool: list[str], block: int = 1024) -> np.ndarray:
    """Scores of every query against every pool text -> [n_q, n_pool]."""
    if isinstance(embedder, DenseEmbedder):
        docs = embedder.encode_documents(pool)  # [P, d]
        return np.concatenate(
            [embedder.encode_queries(queries[s : s + block]) @ docs.T for s in range(0, len(queries), block)]
        )
    return embedder.score(queries, pool)


def is_baseline(model_spec: str) -> bool:
    """Off the shelf, not trained by uue: a trained folder records how it was made (a student's
    uue_provenance.json, a two-tower model's report.json)."""
    if model_spec.startswith("two-tower:"):
        return not (Path(model_spec.removeprefix("two-tower:")) / "report.json").is_file()
    return not (Path(model_spec) / "uue_provenance.json").is_file()


@dataclass
class ModelResult:
    model: str
    baseline: bool
    sampled: dict[str, Estimate]
    full: dict[str, Estimate]
    sampled_ranks: np.ndarray
    margins: np.ndarray  # target score minus best other candidate (sampled protocol)
    full_ranks: np.ndarray | None = None

    def means(self) -> dict[str, float]:
        """{"sampled_recall@1": ..., "full_mrr": ...}: each protocol's metric means."""
        return {
            f"{protocol}_{metric}": estimate.mean
            for protocol, estimates in (("sampled", self.sampled), ("full", self.full))
            for metric, estimate in estimates.items()
        }


def evaluate_model(
    embedder: Embedder, spec: str, table: datasets.Dataset, config: BenchConfig
) -> ModelResult:
    queries, positives = table["context"], table["positive"]
    cands = sampled_candidates(
        positives, table["negative"], table["user_id"], config.distractors, config.seed
    )
    all_scores = score_pool(embedder, queries, cands.pool)  # [n, P]
    scores = np.take_along_axis(all_scores, cands.index, axis=1)  # [n, 2 + K]
    target = np.zeros(len(scores), dtype=np.int64)
    ranks = ranks_of_target(scores, target, cands.valid)
    others = np.where(cands.valid, scores, -np.inf)[:, 1:]  # [n, 1 + K]
    margins = scores[:, 0] - others.max(axis=1)

    def estimates(r: np.ndarray) -> dict[str, Estimate]:
        return {
            k: bootstrap_ci(v, config.resamples, config.seed) for k, v in per_query(r, BENCH_METRICS).items()
        }

    full: dict[str, Estimate] = {}
    full_ranks = None
    if config.full_ranking:
        positive_pool = sorted(set(positives))
        pool_at = {p: i for i, p in enumerate(positive_pool)}
        pool_cols = [cands.pool.index(p) for p in positive_pool]
        full_scores = all_scores[:, pool_cols]  # [n, P_pos]
        valid = np.ones_like(full_scores, dtype=bool)
        by_user: dict[str, set[int]] = {}
        for user, pos in zip(table["user_id"], positives, strict=True):
            by_user.setdefault(user, set()).add(pool_at[pos])
        target_full = np.array([pool_at[p] for p in positives])
        for i, user in enumerate(table["user_id"]):
            valid[i, list(by_user[user] - {target_full[i]})] = False  # the user's other positives
        full_ranks = ranks_of_target(full_scores, target_full, valid)
        full = estimates(full_ranks)
    return ModelResult(spec, is_baseline(spec), estimates(ranks), full, ranks, margins, full_ranks)


def compare(results: list[ModelResult], resamples: int, seed: int) -> dict:
    """Every trained model against every baseline, paired per triplet."""
    return {
        f"{t.model} - {b.model}": {
            protocol: {k: e.as_dict() for k, e in paired_differences(ours, theirs, resamples, seed).items()}
            for protocol, ours, theirs in (
                ("sampled", t.sampled_ranks, b.sampled_ranks),
                ("full", t.full_ranks, b.full_ranks),
            )
            if ours is not None and theirs is not None
        }
        for t in results
        if not t.baseline
        for b in results
        if b.baseline
    }


def verdict(results: list[ModelResult], threshold: float) -> dict:
    baselines = [r for r in results if r.baseline]
    if not baselines:
        return {
            "verdict": "no baseline",
            "detail": "every model was trained by uue; add e.g. --model bm25 --model minilm",
        }
    best = max(baselines, key=lambda r: r.sampled["recall@1"].mean)
    value = best.sampled["recall@1"].mean
    flag = value >= threshold
    detail = (
        f"best baseline {best.model} gets Recall@1 {value:.3f} >= {threshold}: the task may be too easy "
        "(summaries too literal, or negatives too easy)"
        if flag
        else f"best baseline {best.model} gets Recall@1 {value:.3f} < {threshold}: the task is not solved by off-the-shelf retrieval"
    )
    return {
        "verdict": "red flag" if flag else "ok",
        "best_baseline": best.model,
        "recall@1": value,
        "threshold": threshold,
        "detail": detail,
    }


def easiest_triplets(result: ModelResult, table: datasets.Dataset, n: int) -> list[dict]:
    order = np.argsort(-result.margins)[:n]
    return [
        {
            "triplet_id": table[int(i)]["triplet_id"],
            "user_id": table[int(i)]["user_id"],
            "positive": table[int(i)]["positive"],
            "negative": table[int(i)]["negative"],
            "margin": float(result.margins[i]),
        }
        for i in order
    ]


class BenchReport(BaseModel):
    """`uue bench`'s report.json: the protocol, every model's estimates, paired comparisons, the verdict."""

    protocol: dict[str, Any]
    models: dict[str, dict[str, Any]]  # model -> baseline flag, sampled / full {metric: estimate}
    comparisons: dict[str, Any]  # "trained - baseline" -> protocol -> {metric: paired difference}
    verdict: dict[str, Any]
    easiest: list[dict[str, Any]]
    tasks: TaskReport | None = None  # `--task`: results and comparisons on held-out users
    report_path: str | None = None


def run_bench(
    config: BenchConfig,
    embedders: dict[str, Embedder] | None = None,
    on_model: Callable[[str], None] | None = None,
) -> BenchReport:
    """Bench every model (`on_model(spec)` after each); returns the report (also written to
    `out/report.json` by the CLI)."""
    table = load_triplets(config.triplets, config.max_triplets)
    if config.valid_fraction is not None:
        held_out = [is_held_out(u, config.valid_fraction, config.split_seed) for u in table["user_id"]]
        table = table.select([i for i, keep in enumerate(held_out) if keep])
    if len(table) < 2:
        raise InputError(
            str(config.triplets),
            f"only {len(table)} triplet(s) to bench; it needs at least 2",
            hint="use more triplets or a larger --valid-fraction" if config.valid_fraction else "",
        )
    embedders = embedders or {}
    results = []
    for spec in config.models:
        embedder = embedders.get(spec) or make_embedder(spec)
        results.append(evaluate_model(embedder, spec, table, config))
        if on_model:
            on_model(spec)
    decision = verdict(results, config.red_flag_recall_at_1)
    best = next((r for r in results if r.model == decision.get("best_baseline")), None)
    return BenchReport(
        protocol={
            "candidates": 2 + config.distractors,
            "negatives": 1,
            "distractors": config.distractors,
            "triplets": len(table),
            "users": len(set(table["user_id"])),
            "split": "all users"
            if config.valid_fraction is None
            else f"held-out users (valid_fraction {config.valid_fraction}, split_seed {config.split_seed})",
        },
        models={
            r.model: {
                "baseline": r.baseline,
                "sampled": {k: e.as_dict() for k, e in r.sampled.items()},
                "full": {k: e.as_dict() for k, e in r.full.items()},
            }
            for r in results
        },
        comparisons=compare(results, config.resamples, config.seed),
        verdict=decision,
        easiest=easiest_triplets(best, table, config.easiest) if best else [],
    )
