"""`uue synth --mode pivot` (seed 000): histories -> (context, positive, negative) triplets, resumable.

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
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import dspy
from pydantic import BaseModel, Field

from uue.datasets.records import History
from uue.datasets.render import render_segment
from uue.errors import ConfigError
from uue.programs.extract import extract_clusters, recent_segment
from uue.programs.job_settings import check_job_settings
from uue.programs.lm import LLMUsage, ModelTotals, TokenLedger, build_lm, default_adapter, response_cache
from uue.programs.negatives import PoolLabel, dedupe_pool, sample_candidates
from uue.programs.program import SynthProgram, load_program, program_hash
from uue.programs.retry import stop_if_teacher_failed
from uue.programs.store import UnitStore, run_units, unit_progress
from uue.programs.synth_config import NegativeMode, SynthConfig
from uue.programs.synth_output import select_users, write_dataset
from uue.provenance import made_by, sha256_text


class Positive(BaseModel):
    """One cluster the teacher found: a positive label with the context it is predicted from."""

    triplet_id: str
    user_id: str
    context: str  # the segment without the cluster: what the student reads
    teacher_context: str  # the segment without every cluster of the user: what the teacher reranks against
    positive: str
    positive_broad: str
    cluster_indices: list[int]
    segment_activity_ids: list[str]
    cluster_activity_ids: list[str]
    source_record_ids: list[str]
    judge_score: float | None = None
    judge_reason: str = ""

    def passes_judge(self, min_score: float | None) -> bool:
        return min_score is None or (self.judge_score is not None and self.judge_score >= min_score)


class PivotSynthReport(BaseModel):
    """What one `uue synth --mode pivot` run made and what it cost (written to report.json)."""

    mode: str = "pivot"
    users: int
    positives: int
    positives_kept: int = Field(description="positives that passed the judge (all without one)")
    triplets: int
    empty_rounds: int
    merged_rounds: int
    failures: dict[str, int]
    llm: LLMUsage = Field(description="teacher usage of every finished unit, whichever run made it")
    llm_this_run: LLMUsage = Field(description="what this invocation itself cost (a resume: what was left)")
    prompt_tokens_per_positive: float
    evaluated_prompt_tokens_per_positive: float
    seconds: float
    dataset: str
    program_hash: str
    made_by: dict


PHASE1_FILE = "progress/phase1.jsonl"
PHASE2_FILE = "progress/phase2.jsonl"


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
        positive = Positive(
            triplet_id=positive_id(history.user_id, segment_ids, cluster_ids),
            user_id=history.user_id,
            context=render_segment(rest, config.context_budget, numbered=False).text,
            teacher_context=teacher_context,
            positive=cluster.specific,
            positive_broad=cluster.broad,
            cluster_indices=cluster.indices,
            segment_activity_ids=segment_ids,
            cluster_activity_ids=cluster_ids,
            source_record_ids=[rid for a in members for rid in (a.source.record_ids if a.source else [])]
            or cluster_ids,
            judge_score=None if math.isnan(score) else score,
            judge_reason=reason,
        )
        positives.append(positive.model_dump())  # stored as JSON in the unit store
    stop_if_teacher_failed(failures, f"user {history.user_id}")
    return {
        "positives": positives,
        "failures": failures,
        "empty_rounds": found.empty_rounds,
        "merged_rounds": found.merged_rounds,
    }


# -- phase 2 -------------------------------------------------------------------------------------


def phase2_unit(
    positive: Positive, pool: list[PoolLabel], program: SynthProgram, config: SynthConfig
) -> dict[str, Any]:
    """The negative of one positive as a JSON-ready record (`failure` set when there is none)."""
    if config.negatives is NegativeMode.generated:
        made = program.generate(
            context=positive.teacher_context, positive=positive.positive, user_id=positive.user_id
        )
        stop_if_teacher_failed([made.failure], f"positive {positive.triplet_id}")
        return {
            "negative": made.negative,
            "negative_broad": made.negative_broad,
            "negative_source": "generated",
            "failure": made.failure,
        }
    rng = random.Random(f"{config.seed}:{positive.triplet_id}")  # str seeds are stable across processes
    candidates = sample_candidates(pool, positive.user_id, positive.positive, config.candidates, rng)
    if not candidates:
        return {"negative": "", "negative_broad": "", "negative_source": "reranked", "failure": "empty_pool"}
    ranked = program.rerank(
        context=positive.teacher_context,
        positive=positive.positive,
        candidates=[c.specific for c in candidates],
        positive_slot=rng.randrange(len(candidates) + 1),
    )
    stop_if_teacher_failed([ranked.failure], f"positive {positive.triplet_id}")
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


def triplet_rows(
    positives: Iterable[Positive], phase2: UnitStore, teacher: str, phash: str
) -> Iterator[dict[str, Any]]:
    """Positives joined with their negatives; positives whose negative failed are left out."""
    for positive in positives:
        negative = phase2.get(positive.triplet_id)
        if negative is None or negative["failure"]:
            continue
        yield {
            **positive.model_dump(),
            "judge_score": math.nan if positive.judge_score is None else positive.judge_score,
            "negative": negative["negative"],
            "negative_broad": negative["negative_broad"],
            "negative_source": negative["negative_source"],
            "teacher_model": teacher,
            "program_hash": phash,
        }


def run_pivot_synth(config: SynthConfig) -> PivotSynthReport:
    """Run (or resume) pivot synthesis; writes `out/triplets`, `out/report.json`; returns the report."""
    started = time.perf_counter()
    config.out.mkdir(parents=True, exist_ok=True)
    program = load_program(config.program, config.attempts)
    phash = program_hash(program)
    shaping = ("max_positives", "segment_size", "segment_budget", "context_budget", "teacher_context_budget",
               "candidates", "negatives", "min_judge_score", "seed", "attempts", "max_misses")  # fmt: skip
    settings = {
        "mode": "pivot",
        "program_hash": phash,
        **config.model_dump(mode="json", include=set(shaping)),
    }
    check_job_settings(config.out, {**settings, **config.teacher_settings()}, config.force_restart)
    phase1, phase2 = UnitStore(config.out / PHASE1_FILE), UnitStore(config.out / PHASE2_FILE)
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
            positive
            for h in users
            for positive in map(Positive.model_validate, phase1.get(h.user_id)["positives"])
            if positive.passes_judge(config.min_judge_score)
        ]
        pool = dedupe_pool([PoolLabel(p.user_id, p.positive, p.positive_broad) for p in positives])
        task2 = progress.add_task(
            "phase 2: negatives",
            total=len(positives),
            completed=sum(p.triplet_id in phase2 for p in positives),
        )
        run_units(
            [(p.triplet_id, lambda p=p: phase2_unit(p, pool, program, config)) for p in positives],
            phase2,
            config.workers,
            tick(task2),
        )
    ledger.update(lm.history)
    rows = list(triplet_rows(positives, phase2, config.teacher.model, phash))
    write_dataset(rows, config.out / "triplets")
    report = build_report(
        config, users, phase1, phase2, len(positives), len(rows), ledger, time.perf_counter() - started, phash
    )
    (config.out / "report.json").write_text(report.model_dump_json(indent=2))
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
    phash: str,
) -> PivotSynthReport:
    records = [phase1.get(h.user_id) for h in users]
    all_positives = [Positive.model_validate(p) for r in records for p in r["positives"]]
    failures = Counter(f"phase1:{reason}" for r in records for reason in r["failures"])
    for p in all_positives:
        if not p.passes_judge(config.min_judge_score):
            failures["judge:below_min_score"] += 1
        elif negative := phase2.get(p.triplet_id):
            if negative["failure"]:
                failures[f"phase2:{negative['failure']}"] += 1
            elif negative.get("rerank_failure"):  # kept with a sampled negative
                failures[f"phase2:{negative['rerank_failure']}:kept_with_sampled_negative"] += 1
    # What the finished units cost, whichever invocation ran them (a cache hit costs nothing).
    job = ModelTotals()
    for unit in [*records, *(phase2.get(p.triplet_id) or {} for p in all_positives)]:
        job.add(ModelTotals.from_dict(unit.get("llm", {})))
    job_llm = job.as_dict()
    evaluated = job_llm["prompt_tokens"] - job_llm["cached_prompt_tokens"]
    return PivotSynthReport(
        users=len(users),
        positives=len(all_positives),
        positives_kept=kept_positives,
        triplets=triplets,
        empty_rounds=sum(r["empty_rounds"] for r in records),
        merged_rounds=sum(r.get("merged_rounds", 0) for r in records),
        failures=dict(sorted(failures.items())),
        llm=job_llm,
        llm_this_run=ledger.as_dict(),
        prompt_tokens_per_positive=round(job_llm["prompt_tokens"] / max(1, len(all_positives)), 1),
        evaluated_prompt_tokens_per_positive=round(evaluated / max(1, len(all_positives)), 1),
        seconds=round(seconds, 2),
        dataset=str(config.out / "triplets"),
        program_hash=phash,
        made_by=made_by("uue synth", config, [config.program] if config.program else []),
    )
