"""The typed config of `uue compile`: which part, which optimizer, which metric, which budget."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from uue.config import Config
from uue.programs.lm import TeacherConfig


class ProgramPart(str, Enum):
    """Which module of the SynthProgram is compiled (the attribute name in `PART_ATTRIBUTE`)."""

    cluster = "cluster"
    rerank = "rerank"
    judge = "judge"


class OptimizerName(str, Enum):
    bootstrap = "bootstrap"
    random_search = "random-search"
    mipro = "mipro"
    gepa = "gepa"


class MetricName(str, Enum):
    f1 = "f1"  # cluster vs the pivot's thread
    f1_loose = "f1-loose"  # cluster vs the pivot's subreddit
    judge = "judge"  # cluster label, judged by the teacher
    retrieval = "retrieval"  # cluster label retrieves its own thread (MiniLM)
    hardness = "hardness"  # reranked negative: close to the context, judged wrong
    agreement = "agreement"  # judge grade vs the reference target


# The metrics each part can be compiled on, the default first.
METRICS_OF = {
    ProgramPart.cluster: (MetricName.f1, MetricName.f1_loose, MetricName.judge, MetricName.retrieval),
    ProgramPart.rerank: (MetricName.hardness,),
    ProgramPart.judge: (MetricName.agreement,),
}


class CompileConfig(Config):
    """Everything `uue compile` needs; validated on construction."""

    model_config = ConfigDict(frozen=True)

    program: ProgramPart = Field(description="cluster | rerank | judge: the module to compile")
    optimizer: OptimizerName = Field(
        OptimizerName.bootstrap, description="bootstrap | random-search | mipro | gepa"
    )
    out: Path = Field(description="The compiled SynthProgram (DSPy save JSON); FILE.report.json beside it")
    trainset: Path | None = Field(None, description="Reference cases (JSON lines) to compile on")
    valset: Path | None = Field(None, description="Reference cases to score before/after and select on")
    histories: Path | None = Field(
        None, description="Build train/val/test reference sets from these histories (written beside --out)"
    )
    max_users: int | None = Field(None, ge=1, description="With --histories: read only the first N users")
    metric: MetricName | None = Field(
        None, description="Default: f1 (cluster), hardness (rerank), agreement (judge)"
    )
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    prompt_model: TeacherConfig | None = Field(
        None, description="LM that proposes instructions (MIPROv2) or reflects (GEPA); default: the teacher"
    )
    base: Path | None = Field(None, description="Start from this saved SynthProgram (default: a fresh one)")
    max_train: int = Field(
        24, ge=1, description="Use at most N training examples (the offline teacher is slow)"
    )
    max_val: int = Field(24, ge=1, description="Use at most N validation examples")
    max_demos: int = Field(
        1, ge=0, description="Bootstrapped demos per predictor (each holds a whole segment: mind n_ctx)"
    )
    demo_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Score a traced answer needs to become a demo (default: the metric's, e.g. F1 0.8)",
    )
    max_labeled_demos: int = Field(
        0, ge=0, description="Raw training examples as demos (references lack labels)"
    )
    keep_base_demos: bool = Field(
        True, description="Keep the modules' hand-written demos (optimizers reset demos) before the new ones"
    )
    num_candidates: int = Field(
        4, ge=1, description="Random search: candidate programs; MIPROv2 without --auto"
    )
    auto: Literal["light", "medium", "heavy"] | None = Field(
        "light", description="MIPROv2/GEPA budget preset; ignored by GEPA when --max-metric-calls is set"
    )
    max_metric_calls: int | None = Field(None, ge=1, description="GEPA: hard cap on metric calls")
    attempts: int = Field(2, ge=1, description="Calls per module before a prediction records a failure")
    seed: int = Field(0, description="Seed of the user split, candidate sampling and the optimizers")
    track: bool = Field(True, description="Log the compile to MLflow")

    @model_validator(mode="after")
    def _consistent(self) -> CompileConfig:
        if self.histories is None and (self.trainset is None or self.valset is None):
            raise ValueError("give --trainset and --valset, or --histories to build them")
        if self.metric is not None and self.metric not in METRICS_OF[self.program]:
            allowed = ", ".join(m.value for m in METRICS_OF[self.program])
            raise ValueError(
                f"metric {self.metric.value!r} does not fit program {self.program.value!r}: {allowed}"
            )
        if self.optimizer is OptimizerName.gepa and self.auto is None and self.max_metric_calls is None:
            raise ValueError("GEPA needs a budget: --auto light|medium|heavy or --max-metric-calls N")
        return self

    @property
    def metric_name(self) -> MetricName:
        return self.metric or METRICS_OF[self.program][0]
