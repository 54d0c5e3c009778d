"""`uue synth --mode activity`: label activities one by one (or read `--labels`), then build triplets.

Stages: choose activities -> teacher labels (resumable, `label_job`) -> `OUT/labels.jsonl` ->
queries in the student's view + mined / reranked negatives (`label_triplets`) -> `OUT/triplets`
and `OUT/report.json`. With `--labels FILE` the teacher is never built, so the rebuild makes no LLM
call; the same labels give the same triplets.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import dspy
from pydantic import BaseModel, Field

from uue.datasets.histories import iter_histories
from uue.datasets.records import History
from uue.errors import ConfigError, InputError
from uue.eval.embedders import SentenceTransformerEmbedder, offline_minilm_path
from uue.programs.activity import LabelActivity
from uue.programs.job_settings import check_job_settings
from uue.programs.label_job import (
    LabelRequest,
    adopt_labels,
    label_requests,
    run_labelling,
    stored_label,
)
from uue.programs.label_triplets import (
    LabelledQuery,
    LabelPool,
    candidate_negatives,
    choose_negative,
    labelled_queries,
)
from uue.programs.labels import ActivityLabel, read_labels, write_labels
from uue.programs.lm import LLMUsage, ModelTotals, TokenLedger, build_lm, default_adapter, response_cache
from uue.programs.negatives import RerankNegatives
from uue.programs.program import load_state, program_hash
from uue.programs.store import UnitStore
from uue.programs.synth_config import NegativeMode, SynthConfig, UserSide
from uue.programs.synth_output import select_users, write_dataset
from uue.provenance import made_by

LABEL_STORE = "progress/labels.jsonl"
RERANK_STORE = "progress/rerank.jsonl"
LABELS_FILE = "labels.jsonl"


class ActivitySynthReport(BaseModel):
    """What one `uue synth --mode activity` run made and what it cost (written to report.json)."""

    mode: str = "activity"
    users: int
    activities_chosen: int = Field(description="activities the teacher was asked to label")
    labelled: int = Field(description="activities with a label")
    nothing: int = Field(description="activities the teacher found nothing to label in")
    failures: dict[str, int]
    triplets: int
    empty_queries: int = Field(description="labels left out: the user has no activity outside the thread")
    no_negative: int
    negative_sources: dict[str, int]
    labels_file: str
    labels_from_file: bool
    llm: LLMUsage = Field(description="teacher usage of every finished unit, whichever run made it")
    llm_this_run: LLMUsage
    prompt_tokens_per_label: float
    subject_share: float = Field(description="share of the queries' tokens that are SUBJECT's words")
    seconds: float
    teacher_seconds: float
    labels_per_hour_this_run: float
    dataset: str
    program_hash: str
    made_by: dict


def teacher_labels(
    config: SynthConfig, requests, ledger: TokenLedger
) -> tuple[list[ActivityLabel], str, int]:
    """Label (or resume labelling) every request; returns the labels, the program hash and the number
    of units the teacher finished in this run."""
    labeller = load_state(LabelActivity(config.attempts), config.program)
    phash = program_hash(labeller)
    settings = {
        "mode": "activity",
        "program_hash": phash,
        "attempts": config.attempts,
        **config.teacher_settings(),
    }
    check_job_settings(config.out, settings, config.force_restart)
    store = UnitStore(config.out / LABEL_STORE)
    if config.resume_labels:
        adopt_labels(store, requests, read_labels(config.resume_labels), config.teacher.model, phash)
    before = len(store)
    lm = build_lm(config.teacher, concurrent=True)  # one engine for labelling and reranking

    def labels_so_far() -> list[ActivityLabel]:
        found = (
            stored_label(
                store.get(r.activity.activity_id), r.activity.activity_id, config.teacher.model, phash
            )
            for r in requests
            if r.activity.activity_id in store
        )
        return [label for label in found if label is not None]

    with (
        response_cache(config.out / "dspy_cache"),
        dspy.context(lm=lm, adapter=default_adapter(config.teacher)),
    ):
        run_labelling(
            requests,
            labeller,
            store,
            on_labels=lambda: write_labels(config.out / LABELS_FILE, labels_so_far()),
            usage=lambda: ledger.take(lm.history),
            show_progress=config.progress,
            # a local model decodes concurrent calls in one batch (llamacpp_batch); others take --workers
            workers=config.teacher.parallel if config.teacher.is_local else config.workers,
        )
    ledger.update(lm.history)
    labels = labels_so_far()
    write_labels(config.out / LABELS_FILE, labels)
    return labels, phash, len(store) - before


def rerank_with_teacher(config: SynthConfig, store: UnitStore, ledger: TokenLedger):
    """The reranker of `choose_negative`: RerankNegatives over the candidates, one stored unit each."""
    program = RerankNegatives(config.attempts)
    lm = build_lm(config.teacher, concurrent=True)  # one engine for labelling and reranking

    def rerank(query: LabelledQuery, candidates: list[str], rng: random.Random) -> int | None:
        if query.triplet_id not in store:
            with dspy.context(lm=lm, adapter=default_adapter(config.teacher)):
                ranked = program(
                    context=query.query,
                    positive=query.label.specific,
                    candidates=candidates,
                    positive_slot=rng.randrange(len(candidates) + 1),
                )
            store.add(
                query.triplet_id,
                {"negative": ranked.negative, "failure": ranked.failure, "llm": ledger.take(lm.history)},
            )
        return store.get(query.triplet_id)["negative"]

    return rerank


def triplet_row(query: LabelledQuery, pool: LabelPool, negative: int, source: str) -> dict:
    label = query.label
    return {
        "triplet_id": query.triplet_id,
        "user_id": query.user_id,
        "context": query.query,
        "positive": label.specific,
        "positive_broad": label.broad,
        "negative": pool.specific[negative],
        "negative_broad": pool.broad[negative],
        "negative_source": source,
        "cluster_indices": [],
        "segment_activity_ids": query.query_activity_ids,
        "cluster_activity_ids": query.thread_activity_ids,
        "judge_score": math.nan,
        "judge_reason": "",
        "teacher_model": label.teacher_model,
        "program_hash": label.program_hash,
        "source_record_ids": (query.activity.source.record_ids if query.activity.source else [])
        or [query.activity.activity_id],
    }


@dataclass(frozen=True)
class LabelledUsers:
    """What the teacher (or a labels file) gave: the users, the activities asked and the labels."""

    users: list[History]
    requests: list[LabelRequest]
    labels: list[ActivityLabel]
    program_hash: str
    labels_path: Path
    new_units: int  # units finished by this run


def on_side(history: History, config: SynthConfig) -> bool:
    return config.user_side.keeps(history.user_id, config.valid_fraction)


def from_labels_file(config: SynthConfig) -> LabelledUsers:
    """The users who own a labelled activity, wherever storage puts them; no teacher call."""
    labels = read_labels(config.labels)
    wanted = {label.activity_id for label in labels}
    users = [
        h
        for h in iter_histories(config.histories)
        if any(a.activity_id in wanted for a in h.activities) and on_side(h, config)
    ]
    if not users:
        raise InputError(
            str(config.labels),
            f"no labelled activity of {config.user_side.value} users is in {config.histories}",
        )
    phash = ",".join(sorted({label.program_hash for label in labels}))
    return LabelledUsers(users, [], labels, phash, config.labels, 0)


def from_teacher(config: SynthConfig, ledger: TokenLedger) -> LabelledUsers:
    users = [
        h
        for h in select_users(config.histories, config.max_users, config.min_activities)
        if on_side(h, config)
    ]
    if not users:
        raise ConfigError(
            f"no {config.user_side.value} users with activities in {config.histories}",
            hint="--user-side all" if config.user_side is not UserSide.all else "",
        )
    requests = label_requests(users, config.activities_per_user, config.min_words)
    labels, phash, new_units = teacher_labels(config, requests, ledger)
    return LabelledUsers(users, requests, labels, phash, config.out / LABELS_FILE, new_units)


def build_triplets(
    config: SynthConfig, found: LabelledUsers, ledger: TokenLedger
) -> tuple[list[dict], list[LabelledQuery], int, Counter]:
    """Rows of the triplet dataset, the queries they came from, the labels left out for an empty
    query, and where the negatives came from."""
    embedder = SentenceTransformerEmbedder(str(offline_minilm_path()), max_seq_length=config.student_budget)
    by_id = {label.activity_id: label for label in found.labels}
    queries, empty = labelled_queries(
        found.users, by_id, config.student_budget, embedder.count_tokens, config.query_scope
    )
    pool = LabelPool.of(queries)
    candidates = candidate_negatives(queries, pool, embedder, config.candidates) if queries else []
    rerank = (
        rerank_with_teacher(config, UnitStore(config.out / RERANK_STORE), ledger)
        if config.negatives is NegativeMode.rerank
        else None
    )
    rows, sources = [], Counter()
    for query, found_candidates in zip(queries, candidates, strict=True):
        chosen = choose_negative(query, found_candidates, pool, rerank, config.seed)
        if chosen is not None:
            rows.append(triplet_row(query, pool, *chosen))
            sources[chosen[1]] += 1
    return rows, queries, empty, sources


def run_activity_synth(config: SynthConfig) -> ActivitySynthReport:
    started = time.perf_counter()
    config.out.mkdir(parents=True, exist_ok=True)
    ledger = TokenLedger()
    found = from_labels_file(config) if config.labels else from_teacher(config, ledger)
    teacher_seconds = time.perf_counter() - started
    rows, queries, empty, sources = build_triplets(config, found, ledger)
    write_dataset(rows, config.out / "triplets")
    failures, job = job_usage(config, found, queries)
    job_llm = job.as_dict()
    labelled = [label for label in found.labels if not label.nothing]
    report = ActivitySynthReport(
        users=len(found.users),
        activities_chosen=len(found.requests) if not config.labels else len(found.labels),
        labelled=len(labelled),
        nothing=len(found.labels) - len(labelled),
        failures=dict(sorted(failures.items())),
        triplets=len(rows),
        empty_queries=empty,
        no_negative=len(queries) - len(rows),
        negative_sources=dict(sources),
        labels_file=str(found.labels_path),
        labels_from_file=bool(config.labels),
        llm=job_llm,
        llm_this_run=ledger.as_dict(),
        prompt_tokens_per_label=round(job_llm["prompt_tokens"] / max(1, len(found.labels)), 1),
        subject_share=round(sum(q.subject_share for q in queries) / max(1, len(queries)), 3),
        seconds=round(time.perf_counter() - started, 2),
        teacher_seconds=round(teacher_seconds, 2),
        labels_per_hour_this_run=round(found.new_units / max(teacher_seconds, 1e-9) * 3600, 1),
        dataset=str(config.out / "triplets"),
        program_hash=found.program_hash,
        made_by=made_by("uue synth --mode activity", config, [config.labels] if config.labels else []),
    )
    (config.out / "report.json").write_text(report.model_dump_json(indent=2))
    return report


def job_usage(
    config: SynthConfig, found: LabelledUsers, queries: list[LabelledQuery]
) -> tuple[Counter, ModelTotals]:
    """Failure codes and teacher usage of every finished unit, whichever run finished it."""
    failures: Counter[str] = Counter()
    job = ModelTotals()
    units = UnitStore(config.out / LABEL_STORE)
    for request in found.requests:
        unit = units.get(request.activity.activity_id) or {}
        if unit.get("failure"):
            failures[f"label:{unit['failure']}"] += 1
        job.add(ModelTotals.from_dict(unit.get("llm", {})))
    reranked = UnitStore(config.out / RERANK_STORE)
    for query in queries:
        unit = reranked.get(query.triplet_id) or {}
        if unit.get("failure"):
            failures[f"rerank:{unit['failure']}:kept_with_mined_negative"] += 1
        job.add(ModelTotals.from_dict(unit.get("llm", {})))
    return failures, job
