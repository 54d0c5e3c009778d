"""`uue synth`: histories -> (context, positive, negative) triplets, resumable, with a report.

Phase 1 runs per user (a *unit*: segment -> clusters -> labels -> optional judge), phase 2 per
positive (sampled candidates -> rerank, or a generated negative). Each finished unit is appended to
`OUT/progress/phase{1,2}.jsonl`; DSPy's response cache lives in `OUT/dspy_cache`. A rerun of the
same command skips finished units and replays the unfinished one's calls from the cache, so a kill
at any point costs no LLM call twice. Phase 2 seeds its sampling per positive, so the order units
run in (and any interruption) does not change the result.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from enum import Enum
from itertools import islice
from pathlib import Path
from typing import Any

import datasets
import dspy
from pydantic import ConfigDict, Field, model_validator

from uue.config import Config
from uue.datasets.histories import iter_histories
from uue.datasets.records import History
from uue.datasets.render import render_segment
from uue.datasets.triplets import TRIPLET_FEATURES
from uue.errors import ConfigError
from uue.programs.extract import extract_clusters, recent_segment
from uue.programs.lm import ModelTotals, TeacherConfig, TokenLedger, build_lm, default_adapter, response_cache
from uue.programs.negatives import PoolLabel, dedupe_pool, sample_candidates
from uue.programs.program import SynthProgram, load_program, program_hash
from uue.programs.store import UnitStore, run_units, unit_progress
from uue.provenance import made_by, sha256_text

PHASE1_FILE = "progress/phase1.jsonl"
PHASE2_FILE = "progress/phase2.jsonl"


class NegativeMode(str, Enum):
    rerank = "rerank"  # the teacher reranks candidates (pivot: sampled from the pool; activity: mined)
    generated = "generated"  # pivot mode: the teacher writes the negative
    mined = "mined"  # activity mode: the base embedder's best candidate, no LLM call


class SynthMode(str, Enum):
    pivot = "pivot"  # seed 000: cluster a segment around pivots, one triplet per cluster
    activity = "activity"  # seed 001 §3: label each activity on its own, one triplet per label


class SynthConfig(Config):
    """Everything `uue synth` needs; validated on construction."""

    model_config = ConfigDict(frozen=True)

    histories: Path = Field(description="Directory written by `uue ingest`")
    out: Path = Field(description="Output directory: triplets/, report.json, progress/, dspy_cache/")
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    mode: SynthMode = Field(SynthMode.pivot, description="pivot (clusters) | activity (one label each)")
    labels: Path | None = Field(
        None,
        description="Activity mode: rebuild triplets from this labels file (written by an earlier "
        "run) instead of calling the teacher",
    )
    resume_labels: Path | None = Field(
        None,
        description="Activity mode: labels of an earlier run of the same teacher and program (e.g. the "
        "committed file) taken as finished units, so a job whose out/ was lost does not ask again",
    )
    activities_per_user: int = Field(
        8, ge=1, description="Activity mode: newest activities labelled per user"
    )
    min_words: int = Field(
        4, ge=1, description="Activity mode: skip activities with fewer of the user's words (never labelled)"
    )
    student_budget: int = Field(
        256, ge=16, description="Activity mode: tokens of the query (the student's window)"
    )
    max_users: int | None = Field(None, ge=1, description="Only the first N users")
    min_activities: int = Field(1, ge=1, description="Skip users with fewer activities")
    max_positives: int = Field(3, ge=1, description="Positives (clusters) per user")
    segment_size: int = Field(16, ge=2, description="Most recent activities shown to the teacher")
    segment_budget: int = Field(1536, ge=64, description="Token budget of the rendered segment")
    context_budget: int = Field(1024, ge=32, description="Token budget of a triplet's H_context")
    teacher_context_budget: int = Field(
        192,
        ge=32,
        description="Token budget of the context the teacher reranks (or writes a negative) against: "
        "the segment minus all the user's clusters; the user's own words come first, so a short "
        "rendering keeps the signal at a fraction of the cost",
    )
    candidates: int = Field(4, ge=1, description="Pool candidates reranked per positive")
    negatives: NegativeMode = Field(NegativeMode.rerank, description="rerank | generated")
    min_judge_score: float | None = Field(
        None, ge=0.0, le=1.0, description="Judge every positive and drop those below (None: no judge)"
    )
    workers: int = Field(1, ge=1, description="Concurrent units (remote teachers; 1 for a local model)")
    program: Path | None = Field(None, description="A SynthProgram saved with DSPy `save`")
    seed: int = Field(0, description="Seed of candidate sampling")
    attempts: int = Field(2, ge=1, description="Calls per module before a unit records a failure")
    max_misses: int = Field(
        2, ge=1, description="Phase 1 stops after this many rounds in a row without a cluster"
    )
    track: bool = Field(True, description="Log the run to MLflow")
    progress: bool = Field(True, description="Show a progress bar")

    @model_validator(mode="after")
    def _consistent(self) -> SynthConfig:
        if self.workers > 1 and self.teacher.is_local:
            raise ValueError("a local teacher runs one call at a time: use --workers 1")
        if self.mode is SynthMode.pivot and (self.negatives is NegativeMode.mined or self.labels):
            raise ValueError("--negatives mined and --labels belong to --mode activity")
        if self.mode is SynthMode.activity and self.negatives is NegativeMode.generated:
            raise ValueError("--mode activity takes --negatives mined or rerank")
        if self.resume_labels and (self.labels or self.mode is SynthMode.pivot):
            raise ValueError("--resume-labels belongs to an activity run with the teacher (not --labels)")
        if self.labels and self.negatives is NegativeMode.rerank:
            raise ValueError("--labels rebuilds without the teacher: use --negatives mined")
        return self


# -- the teacher ---------------------------------------------------------------------------------


# -- phase 1 -------------------------------------------------------------------------------------


def positive_id(user_id: str, segment_ids: list[str], cluster_ids: list[str]) -> str:
    return sha256_text(json.dumps([user_id, segment_ids, cluster_ids]))[:20]


def phase1_unit(history: History, program: SynthProgram, config: SynthConfig) -> dict[str, Any]:
    """One user's positives (with contexts, ids and judge grades) as a JSON-ready record."""
    segment = recent_segment(history, config.segment_size, config.segment_budget)
    found = extract_clusters(segment, program.pivot, config.max_positives, config.max_misses)
    failures = list(found.failures)
    positives = []
    segment_ids = [a.activity_id for a in segment.activities]
    # What the teacher reranks against: the segment minus *every* cluster of the user, the same text
    # for all of them. So no activity behind another positive pulls a true interest up as the "hard
    # negative", and consecutive rerank calls of one user share the prompt prefix up to the candidates.
    clustered = {i for cluster in found.clusters for i in cluster.indices}
    unclustered = [a for i, a in enumerate(segment.activities) if i not in clustered]
    teacher_context = render_segment(unclustered, config.teacher_context_budget, numbered=False).text
    for cluster in found.clusters:
        members = [segment.activities[i] for i in cluster.indices]
        rest = [a for i, a in enumerate(segment.activities) if i not in set(cluster.indices)]
        score, reason = math.nan, ""
        if config.min_judge_score is not None:
            grade = program.judge(
                activities=render_segment(members, config.context_budget, numbered=False).text,
                label=cluster.specific,
            )
            score, reason = grade.score, grade.reason
            if grade.failure:
                failures.append(f"judge_{grade.failure}")
        cluster_ids = [a.activity_id for a in members]
        positives.append(
            {
                "triplet_id": positive_id(history.user_id, segment_ids, cluster_ids),
                "user_id": history.user_id,
                "context": render_segment(rest, config.context_budget, numbered=False).text,
                "teacher_context": teacher_context,
                "positive": cluster.specific,
                "positive_broad": cluster.broad,
                "cluster_indices": cluster.indices,
                "segment_activity_ids": segment_ids,
                "cluster_activity_ids": cluster_ids,
                "source_record_ids": [
                    rid for a in members for rid in (a.source.record_ids if a.source else [])
                ]
                or cluster_ids,
                "judge_score": None if math.isnan(score) else score,
                "judge_reason": reason,
            }
        )
    return {
        "positives": positives,
        "failures": failures,
        "empty_rounds": found.empty_rounds,
        "merged_rounds": found.merged_rounds,
    }


def passes_judge(positive: dict[str, Any], min_score: float | None) -> bool:
    if min_score is None:
        return True
    return positive["judge_score"] is not None and positive["judge_score"] >= min_score


# -- phase 2 -------------------------------------------------------------------------------------


def phase2_unit(
    positive: dict[str, Any], pool: list[PoolLabel], program: SynthProgram, config: SynthConfig
) -> dict[str, Any]:
    """The negative of one positive as a JSON-ready record (`failure` set when there is none)."""
    if config.negatives is NegativeMode.generated:
        made = program.generate(
            context=positive["teacher_context"], positive=positive["positive"], user_id=positive["user_id"]
        )
        return {
            "negative": made.negative,
            "negative_broad": made.negative_broad,
            "negative_source": "generated",
            "failure": made.failure,
        }
    rng = random.Random(f"{config.seed}:{positive['triplet_id']}")  # str seeds are stable across processes
    candidates = sample_candidates(pool, positive["user_id"], positive["positive"], config.candidates, rng)
    if not candidates:
        return {"negative": "", "negative_broad": "", "negative_source": "reranked", "failure": "empty_pool"}
    ranked = program.rerank(
        context=positive["teacher_context"],
        positive=positive["positive"],
        candidates=[c.specific for c in candidates],
        positive_slot=rng.randrange(len(candidates) + 1),
    )
    if ranked.failure is not None:
        # No valid ranking: keep the triplet with a random candidate (already a seeded random sample)
        # as an easy negative, marked as such, rather than lose the teacher's positive.
        chosen, source = candidates[0], "sampled"
    else:
        chosen, source = candidates[ranked.negative], "reranked"
    return {
        "negative": chosen.specific,
        "negative_broad": chosen.broad,
        "negative_source": source,
        "failure": None,
        "rerank_failure": ranked.failure,
    }


# -- running units -------------------------------------------------------------------------------


def select_users(histories_dir: Path, max_users: int | None, min_activities: int) -> list[History]:
    """The first `max_users` users (in storage order) with at least `min_activities` activities."""
    eligible = (h for h in iter_histories(histories_dir) if len(h.activities) >= min_activities)
    return list(islice(eligible, max_users))


def triplet_rows(
    positives: Iterable[dict[str, Any]], phase2: UnitStore, teacher: str, phash: str
) -> Iterator[dict[str, Any]]:
    """Positives joined with their negatives; positives whose negative failed are left out."""
    for positive in positives:
        negative = phase2.get(positive["triplet_id"])
        if negative is None or negative["failure"]:
            continue
        yield {
            **positive,
            "judge_score": math.nan if positive["judge_score"] is None else positive["judge_score"],
            "negative": negative["negative"],
            "negative_broad": negative["negative_broad"],
            "negative_source": negative["negative_source"],
            "teacher_model": teacher,
            "program_hash": phash,
        }


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


def run_synth(config: SynthConfig) -> dict[str, Any]:
    """Run (or resume) synthesis; writes `out/triplets`, `out/report.json`; returns the report."""
    if config.mode is SynthMode.activity:
        from uue.programs.activity_synth import run_activity_synth

        return run_activity_synth(config).model_dump(mode="json")
    started = time.perf_counter()
    config.out.mkdir(parents=True, exist_ok=True)
    phase1, phase2 = UnitStore(config.out / PHASE1_FILE), UnitStore(config.out / PHASE2_FILE)
    program = load_program(config.program, config.attempts)
    phash = program_hash(program)
    users = select_users(config.histories, config.max_users, config.min_activities)
    if not users:
        raise ConfigError(f"no users with activities in {config.histories}")
    lm = build_lm(config.teacher)
    ledger = TokenLedger()
    progress = unit_progress(config.progress)

    def tick(task: int) -> Callable[[], dict[str, Any]]:
        def done() -> dict[str, Any]:
            progress.advance(task)
            return ledger.take(lm.history)

        return done

    with (
        response_cache(config.out / "dspy_cache"),
        dspy.context(lm=lm, adapter=default_adapter(config.teacher)),
        progress,
    ):
        task1 = progress.add_task(
            "phase 1: positives", total=len(users), completed=sum(h.user_id in phase1 for h in users)
        )
        run_units(
            [(h.user_id, lambda h=h: phase1_unit(h, program, config)) for h in users],
            phase1,
            config.workers,
            tick(task1),
        )
        positives = [
            p
            for h in users
            for p in phase1.get(h.user_id)["positives"]
            if passes_judge(p, config.min_judge_score)
        ]
        pool = dedupe_pool([PoolLabel(p["user_id"], p["positive"], p["positive_broad"]) for p in positives])
        task2 = progress.add_task(
            "phase 2: negatives",
            total=len(positives),
            completed=sum(p["triplet_id"] in phase2 for p in positives),
        )
        run_units(
            [(p["triplet_id"], lambda p=p: phase2_unit(p, pool, program, config)) for p in positives],
            phase2,
            config.workers,
            tick(task2),
        )
    ledger.update(lm.history)
    rows = list(triplet_rows(positives, phase2, config.teacher.model, phash))
    write_dataset(rows, config.out / "triplets")
    report = build_report(
        config, users, phase1, phase2, len(positives), len(rows), ledger, time.perf_counter() - started
    )
    report["program_hash"] = phash
    (config.out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    if config.track:
        log_to_mlflow(config, report)
    return report


def build_report(
    config: SynthConfig,
    users: list[History],
    phase1: UnitStore,
    phase2: UnitStore,
    kept_positives: int,
    triplets: int,
    ledger: TokenLedger,
    seconds: float,
) -> dict[str, Any]:
    records = [phase1.get(h.user_id) for h in users]
    all_positives = [p for r in records for p in r["positives"]]
    failures = Counter(f"phase1:{reason}" for r in records for reason in r["failures"])
    for p in all_positives:
        if not passes_judge(p, config.min_judge_score):
            failures["judge:below_min_score"] += 1
        elif negative := phase2.get(p["triplet_id"]):
            if negative["failure"]:
                failures[f"phase2:{negative['failure']}"] += 1
            elif negative.get("rerank_failure"):  # kept with a sampled negative
                failures[f"phase2:{negative['rerank_failure']}:kept_with_sampled_negative"] += 1
    # What the finished units cost, whichever invocation ran them (a cache hit costs nothing).
    job = ModelTotals()
    for unit in [*records, *(phase2.get(p["triplet_id"]) or {} for p in all_positives)]:
        job.add(ModelTotals.from_dict(unit.get("llm", {})))
    job_llm = job.as_dict()
    evaluated = job_llm["prompt_tokens"] - job_llm["cached_prompt_tokens"]
    return {
        "users": len(users),
        "positives": len(all_positives),
        "positives_kept": kept_positives,
        "triplets": triplets,
        "empty_rounds": sum(r["empty_rounds"] for r in records),
        "merged_rounds": sum(r.get("merged_rounds", 0) for r in records),
        "failures": dict(sorted(failures.items())),
        "llm": job_llm,
        "llm_this_run": ledger.as_dict(),  # a resume shows here what the resume itself cost
        "prompt_tokens_per_positive": round(job_llm["prompt_tokens"] / max(1, len(all_positives)), 1),
        "evaluated_prompt_tokens_per_positive": round(evaluated / max(1, len(all_positives)), 1),
        "seconds": round(seconds, 2),
        "dataset": str(config.out / "triplets"),
        "made_by": made_by("uue synth", config, [config.program] if config.program else []),
    }


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
