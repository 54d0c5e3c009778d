"""The typed config of `uue compile`: which part, which optimizer, which metric, which budget."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from uue.config import Config
from uue.programs.behaviours import compilable
from uue.programs.lm import TeacherConfig


def _member(name: str) -> str:
    """An Enum member name for a CLI value: `f1-loose` -> `MetricName.f1_loose`."""
    return name.replace("-", "_")


# `--program` and `--metric` come from the compilable behaviours (`uue.programs.behaviours`): a
# behaviour made compilable in its own file is a choice here without an edit.
_COMPILABLE = {part: behaviour.compile for part, behaviour in compilable().items()}
ProgramPart = Enum("ProgramPart", {_member(part): part for part in _COMPILABLE}, type=str)
ProgramPart.__doc__ = "Which module of the SynthProgram is compiled (a compilable behaviour's part)."
MetricName = Enum(
    "MetricName", {_member(m): m for part in _COMPILABLE.values() for m in part.metrics}, type=str
)
MetricName.__doc__ = "The metric a part is compiled on (one of its behaviour's `Compilable.metrics`)."

# The metrics each part can be compiled on, the default first.
METRICS_OF = {
    ProgramPart(part): tuple(MetricName(m) for m in compile_part.metrics)
    for part, compile_part in _COMPILABLE.items()
}


class OptimizerName(str, Enum):
    bootstrap = "bootstrap"
    random_search = "random-search"
    mipro = "mipro"
    gepa = "gepa"


class CompileConfig(Config):
    """Everything `uue compile` needs; validated on construction."""

    model_config = ConfigDict(frozen=True)

    program: ProgramPart = Field(
        description=" | ".join(p.value for p in ProgramPart) + ": the module to compile"
    )
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
        None,
        description="Default: "
        + ", ".join(f"{metrics[0].value} ({part.value})" for part, metrics in METRICS_OF.items()),
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
    trace_sample: float = Field(
        1.0, ge=0, le=1, description="Share of the evaluations' teacher calls traced to MLflow (0: none)"
    )

    @model_validator(mode="before")
    @classmethod
    def _prompt_model_by_name(cls, data: Any) -> Any:
        """`--prompt-model NAME`: that model, served where the teacher is."""
        if isinstance(data, dict) and isinstance(data.get("prompt_model"), str):
            teacher = data.get("teacher") or TeacherConfig()
            api_base = teacher.api_base if isinstance(teacher, TeacherConfig) else teacher.get("api_base")
            data = {**data, "prompt_model": TeacherConfig(model=data["prompt_model"], api_base=api_base)}
        return data

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
