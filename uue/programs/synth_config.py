"""The typed config of `uue synth` (both modes), validated on construction."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import ConfigDict, Field, model_validator

from uue.config import Config
from uue.eval.split import UserSide
from uue.programs.label_triplets import QueryScope
from uue.programs.lm import TeacherConfig


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
    query_scope: QueryScope = Field(
        QueryScope.without_thread,
        description="Activity mode: a label's query is the history without its thread, or with the activity",
    )
    user_side: UserSide = Field(
        UserSide.all,
        description="Activity mode: only users of this side of the user split (--valid-fraction, as "
        "`uue student`): their labels alone make the pool the negatives are mined from",
    )
    valid_fraction: float = Field(0.2, gt=0, lt=1, description="Held-out share of users of --user-side")
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
    workers: int = Field(
        1, ge=1, description="Concurrent units of a remote teacher (a local model takes --parallel)"
    )
    program: Path | None = Field(None, description="A SynthProgram saved with DSPy `save`")
    seed: int = Field(0, description="Seed of candidate sampling")
    attempts: int = Field(2, ge=1, description="Calls per module before a unit records a failure")
    max_misses: int = Field(
        2, ge=1, description="Phase 1 stops after this many rounds in a row without a cluster"
    )
    force_restart: bool = Field(
        False, description="Delete the finished units of an earlier run with other settings and start over"
    )
    track: bool = Field(True, description="Log the run to MLflow")
    trace_sample: float = Field(
        0.1, ge=0, le=1, description="Share of teacher calls traced to MLflow (DSPy autolog; 0: none)"
    )
    progress: bool = Field(True, description="Show a progress bar")

    def teacher_settings(self) -> dict:
        """What shapes a teacher answer (not where it is served from, nor how long to wait)."""
        return self.teacher.model_dump(
            mode="json", include={"model", "temperature", "max_tokens", "seed", "prefill_json"}
        )

    @model_validator(mode="after")
    def _consistent(self) -> SynthConfig:
        if self.workers > 1 and self.teacher.is_local:
            raise ValueError("--workers is for remote teachers: a local model batches --parallel calls")
        if self.mode is SynthMode.pivot and (self.negatives is NegativeMode.mined or self.labels):
            raise ValueError("--negatives mined and --labels belong to --mode activity")
        if self.mode is SynthMode.pivot and self.user_side is not UserSide.all:
            raise ValueError("--user-side belongs to --mode activity")
        if self.mode is SynthMode.activity and self.negatives is NegativeMode.generated:
            raise ValueError("--mode activity takes --negatives mined or rerank")
        if self.resume_labels and (self.labels or self.mode is SynthMode.pivot):
            raise ValueError("--resume-labels belongs to an activity run with the teacher (not --labels)")
        if self.labels and self.negatives is NegativeMode.rerank:
            raise ValueError("--labels rebuilds without the teacher: use --negatives mined")
        return self
