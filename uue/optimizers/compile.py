"""`uue compile`: optimise one teacher module with a DSPy optimizer and save the whole program.

The compiled module replaces its part of a `SynthProgram` (a fresh one, or `--base FILE`), which is
saved with DSPy's `save` (JSON state), so `uue synth --program FILE` loads it. Beside it,
`FILE.report.json` holds the metric before/after on the valset, the optimizer settings, the LLM calls
used, the teacher and the provenance. Each compile is one MLflow run with `mlflow.dspy.autolog()`
(compile, evaluations, traces), the before/after scores and the saved program as artifacts.

The optimizers are DSPy's own and return a compiled copy: the input program is never changed.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import dspy
from pydantic import ConfigDict, Field, model_validator

from uue.config import Config
from uue.datasets.histories import iter_histories
from uue.errors import ConfigError
from uue.optimizers.metrics import (
    ClusterF1,
    GEPAFeedback,
    JudgeAgreement,
    Metric,
    NegativeHardness,
    SummaryJudge,
    SummaryRetrieval,
)
from uue.optimizers.references import (
    ReferenceCase,
    Split,
    build_cases,
    cluster_examples,
    judge_examples,
    read_cases,
    rerank_examples,
    split_cases,
    write_cases,
)
from uue.programs.lm import TeacherConfig, TokenLedger, build_lm, default_adapter
from uue.programs.program import SynthProgram, load_program, program_hash
from uue.provenance import made_by

EXPERIMENT = "uue-compile"


class ProgramPart(str, Enum):
    """Which module of the SynthProgram is compiled (the attribute name in `PART_ATTRIBUTE`)."""

    cluster = "cluster"
    rerank = "rerank"
    judge = "judge"


PART_ATTRIBUTE = {ProgramPart.cluster: "pivot", ProgramPart.rerank: "rerank", ProgramPart.judge: "judge"}


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


# -- data ----------------------------------------------------------------------------------------


def split_paths(out: Path) -> dict[Split, Path]:
    """Where `--histories` writes the reference sets: beside the compiled program."""
    return {split: out.with_name(f"{out.stem}.{split.value}.jsonl") for split in Split}


def reference_sets(config: CompileConfig) -> tuple[list[ReferenceCase], list[ReferenceCase], list[Path]]:
    """(train cases, val cases, input files): read, or built from histories and written."""
    if config.histories is not None and (config.trainset is None or config.valset is None):
        histories = iter_histories(config.histories)
        if config.max_users:
            histories = (h for _, h in zip(range(config.max_users), histories, strict=False))
        splits = split_cases(build_cases(histories), seed=config.seed)
        paths = split_paths(config.out)
        for split, cases in splits.items():
            write_cases(cases, paths[split])
        train, val = splits[Split.train], splits[Split.val]
        inputs = [paths[Split.train], paths[Split.val]]
    else:
        train, val = read_cases(config.trainset), read_cases(config.valset)
        inputs = [config.trainset, config.valset]
    if not train or not val:
        raise ConfigError(
            f"empty reference set: {len(train)} train and {len(val)} val cases",
            hint="use more users (users need two threads interleaved in their recent activities)",
        )
    return train, val, inputs


def make_examples(part: ProgramPart, cases: list[ReferenceCase], seed: int) -> list[dspy.Example]:
    if part is ProgramPart.cluster:
        return cluster_examples(cases)
    if part is ProgramPart.rerank:
        return rerank_examples(cases, seed=seed)
    return judge_examples(cases, seed=seed)


def make_metric(
    name: MetricName, val_cases: list[ReferenceCase], seed: int, demo_threshold: float | None = None
) -> Metric:
    metric = _new_metric(name, val_cases, seed)
    if demo_threshold is not None:
        metric.pass_score = demo_threshold
    return metric


def _new_metric(name: MetricName, val_cases: list[ReferenceCase], seed: int) -> Metric:
    if name is MetricName.f1:
        return ClusterF1("thread")
    if name is MetricName.f1_loose:
        return ClusterF1("community")
    if name is MetricName.judge:
        return SummaryJudge()
    if name is MetricName.retrieval:
        return SummaryRetrieval(val_cases, seed=seed)
    if name is MetricName.hardness:
        return NegativeHardness()
    return JudgeAgreement()


class CountedMetric:
    """The metric, counting its calls (the optimizer's budget is spent in metric calls)."""

    def __init__(self, metric: Callable):
        self.metric, self.calls = metric, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.metric(*args, **kwargs)


# -- optimizers ----------------------------------------------------------------------------------


def optimizer_settings(config: CompileConfig) -> dict[str, Any]:
    """The settings the chosen optimizer runs with (logged and written to the report)."""
    settings: dict[str, Any] = {"optimizer": config.optimizer.value, "seed": config.seed}
    if config.optimizer in (OptimizerName.bootstrap, OptimizerName.random_search, OptimizerName.mipro):
        settings.update(max_bootstrapped_demos=config.max_demos, max_labeled_demos=config.max_labeled_demos)
    if config.optimizer is OptimizerName.random_search:
        settings["num_candidate_programs"] = config.num_candidates
    if config.optimizer is OptimizerName.mipro:
        settings.update(auto=config.auto, num_candidates=None if config.auto else config.num_candidates)
    if config.optimizer is OptimizerName.gepa:
        capped = config.max_metric_calls is not None
        settings.update(auto=None if capped else config.auto, max_metric_calls=config.max_metric_calls)
    return settings


def run_optimizer(
    config: CompileConfig,
    student: dspy.Module,
    trainset: list[dspy.Example],
    valset: list[dspy.Example],
    metric: Metric,
    counted: CountedMetric,
    task_lm: dspy.LM,
    prompt_lm: dspy.LM,
) -> dspy.Module:
    """A compiled copy of `student` (DSPy's optimizers `reset_copy`/`deepcopy` their student)."""
    from dspy.teleprompt import GEPA, BootstrapFewShot, BootstrapFewShotWithRandomSearch, MIPROv2

    settings = optimizer_settings(config)
    if config.optimizer is OptimizerName.bootstrap:
        optimizer = BootstrapFewShot(
            metric=counted,
            max_bootstrapped_demos=config.max_demos,
            max_labeled_demos=config.max_labeled_demos,
            max_rounds=1,
        )
        return optimizer.compile(student, trainset=trainset)
    if config.optimizer is OptimizerName.random_search:
        optimizer = BootstrapFewShotWithRandomSearch(
            metric=counted,
            max_bootstrapped_demos=config.max_demos,
            max_labeled_demos=config.max_labeled_demos,
            num_candidate_programs=config.num_candidates,
            num_threads=1,
        )
        return optimizer.compile(student, trainset=trainset, valset=valset)
    if config.optimizer is OptimizerName.mipro:
        optimizer = MIPROv2(
            metric=counted,
            prompt_model=prompt_lm,
            task_model=task_lm,
            max_bootstrapped_demos=config.max_demos,
            max_labeled_demos=config.max_labeled_demos,
            auto=settings["auto"],
            num_candidates=settings["num_candidates"],
            num_threads=1,
            seed=config.seed,
            track_stats=False,
        )
        return optimizer.compile(
            student,
            trainset=trainset,
            valset=valset,
            num_trials=None if config.auto else config.num_candidates * 2,
            minibatch=len(valset) > 35,
            requires_permission_to_run=False,
        )
    counted.metric = GEPAFeedback(metric)
    optimizer = GEPA(
        metric=counted,
        auto=settings["auto"],
        max_metric_calls=settings["max_metric_calls"],
        reflection_lm=prompt_lm,
        num_threads=1,
        seed=config.seed,
        track_stats=False,
    )
    return optimizer.compile(student, trainset=trainset, valset=valset)


def with_base_demos(compiled: dspy.Module, student: dspy.Module) -> dspy.Module:
    """Put the student's own demos (hand-written worked answers) back in front of the compiled ones.

    DSPy's demo optimizers start from `reset_copy()`, which drops them; changes `compiled` in place
    (a copy the optimizer made, never the student)."""
    base = dict(student.named_predictors())
    for name, predictor in compiled.named_predictors():
        kept = [demo for demo in base[name].demos if demo not in predictor.demos]
        predictor.demos = [*kept, *predictor.demos]
    return compiled


def part_of_program(compiled: dspy.Module) -> dspy.Module:
    """Clear DSPy's `_compiled` flag: a module marked compiled is frozen, and its parent's
    `named_parameters`, `dump_state` and `save` skip it, so the saved program would lose it."""
    compiled._compiled = False
    return compiled


def evaluate(program: dspy.Module, examples: list[dspy.Example], metric: Metric) -> float:
    """Mean metric over `examples` (a failed call scores 0), with DSPy's Evaluate (autologged)."""
    result = dspy.Evaluate(
        devset=examples, metric=metric, num_threads=1, display_progress=False, failure_score=0.0
    )(program)
    scores = [float(score) for _, _, score in result.results]
    return sum(scores) / len(scores) if scores else math.nan


# -- the command ---------------------------------------------------------------------------------


def report_path(out: Path) -> Path:
    return out.with_name(out.stem + ".report.json")


@contextmanager
def mlflow_run(config: CompileConfig) -> Iterator[Any]:
    """One MLflow run with DSPy autologging (compile, evals, traces); None when not tracking."""
    if not config.track:
        yield None
        return
    import mlflow  # imported here: it takes seconds, and only tracked runs need it

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    mlflow.set_experiment(EXPERIMENT)
    mlflow.dspy.autolog(log_compiles=True, log_evals=True, log_traces_from_compile=False, silent=True)
    try:
        with mlflow.start_run(run_name=f"compile-{config.program.value}-{config.optimizer.value}") as run:
            yield run
    finally:
        mlflow.dspy.autolog(disable=True, silent=True)


def compile_program(config: CompileConfig) -> dict[str, Any]:
    """Compile `config.program` with `config.optimizer`; save the program and its report; return it."""
    from dspy.clients.base_lm import GLOBAL_HISTORY

    started = time.perf_counter()
    train_cases, val_cases, inputs = reference_sets(config)
    trainset = make_examples(config.program, train_cases, config.seed)[: config.max_train]
    valset = make_examples(config.program, val_cases, config.seed)[: config.max_val]
    metric = make_metric(config.metric_name, val_cases, config.seed, config.demo_threshold)
    base = load_program(config.base, config.attempts)
    attribute = PART_ATTRIBUTE[config.program]
    student = getattr(base, attribute)
    task_lm = build_lm(config.teacher)
    prompt_lm = build_lm(config.prompt_model) if config.prompt_model else task_lm
    counted = CountedMetric(metric)
    seen = {entry.get("uuid") for entry in GLOBAL_HISTORY}

    with mlflow_run(config) as run, dspy.context(lm=task_lm, adapter=default_adapter(config.teacher)):
        before = evaluate(student, valset, metric)
        compiled_part = run_optimizer(config, student, trainset, valset, metric, counted, task_lm, prompt_lm)
        if config.keep_base_demos:
            compiled_part = with_base_demos(compiled_part, student)
        after = evaluate(compiled_part, valset, metric)
        program: SynthProgram = base.deepcopy()
        setattr(program, attribute, part_of_program(compiled_part))
        config.out.parent.mkdir(parents=True, exist_ok=True)
        program.save(str(config.out))

        ledger = TokenLedger()
        ledger.update(entry for entry in GLOBAL_HISTORY if entry.get("uuid") not in seen)
        report = {
            "program": config.program.value,
            "module": attribute,
            "optimizer": optimizer_settings(config),
            "metric": {**metric.get_config_dict(), "option": config.metric_name.value},
            "valset_size": len(valset),
            "trainset_size": len(trainset),
            "before": before,
            "after": after,
            "demos": {name: len(p.demos) for name, p in compiled_part.named_predictors()},
            "metric_calls": counted.calls,
            "llm": ledger.as_dict(),
            "teacher_model": config.teacher.model,
            "prompt_model": config.prompt_model.model if config.prompt_model else config.teacher.model,
            "program_hash": program_hash(program),
            "program_file": str(config.out),
            "seconds": round(time.perf_counter() - started, 2),
            "made_by": made_by(
                "uue compile",
                config,
                [*inputs, *([config.base] if config.base else [])],
            ),
        }
        report_path(config.out).write_text(json.dumps(report, indent=2, default=str))
        if run is not None:
            log_run(config, report)
    return report


def log_run(config: CompileConfig, report: dict[str, Any]) -> None:
    import mlflow

    params = config.model_dump(mode="json", exclude={"teacher", "prompt_model"})
    params.update(teacher=config.teacher.model, prompt_model=report["prompt_model"])
    params.update({f"metric_{k}": v for k, v in report["metric"].items()})
    mlflow.log_params({k: str(v) for k, v in params.items()})
    figures = {
        "before": report["before"],
        "after": report["after"],
        "metric_calls": report["metric_calls"],
        **{f"llm_{k}": v for k, v in report["llm"].items() if isinstance(v, (int, float)) and v is not None},
    }
    mlflow.log_metrics({k: float(v) for k, v in figures.items() if not math.isnan(float(v))})
    mlflow.set_tag("program_hash", report["program_hash"])
    mlflow.log_artifact(str(config.out), artifact_path="program")
    mlflow.log_artifact(str(report_path(config.out)), artifact_path="program")
