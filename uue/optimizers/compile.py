"""`uue compile`: optimise one teacher module with a DSPy optimizer and save the whole program.

The compiled module replaces its part of a `SynthProgram` (a fresh one, or `--base FILE`), which is
saved with DSPy's `save` (JSON state), so `uue synth --program FILE` loads it. Beside it,
`FILE.report.json` holds the metric before/after on the valset, the optimizer settings, the LLM calls
used, the teacher and the provenance. Each compile is one MLflow run with `mlflow.dspy.autolog()`
(compile, evaluations, traces), the before/after scores and the saved program as artifacts.

Which module is compiled, its examples and its metrics come from the behaviour's `Compilable`
(`uue.programs.behaviours.compilable()`, keyed by `--program`). The optimizers are DSPy's own and
return a compiled copy: the input program is never changed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dspy
from pydantic import BaseModel

from uue.datasets.histories import iter_histories
from uue.errors import ConfigError
from uue.optimizers.compile_config import CompileConfig, MetricName
from uue.optimizers.metrics import Metric
from uue.optimizers.optimizers import (
    CompileJob,
    CountedMetric,
    optimizer_settings,
    part_of_program,
    run_optimizer,
    with_base_demos,
)
from uue.optimizers.references import (
    ReferenceCase,
    Split,
    build_cases,
    read_cases,
    split_cases,
    write_cases,
)
from uue.programs.behaviours import compilable
from uue.programs.lm import LLMUsage, TokenLedger, build_lm, default_adapter
from uue.programs.program import SynthProgram, load_program, program_hash
from uue.programs.retry import stop_if_teacher_failed
from uue.provenance import made_by
from uue.tracking import dspy_traces, tracked_run

EXPERIMENT = "uue-compile"


class CompileReport(BaseModel):
    """What one `uue compile` made (written to FILE.report.json beside the program)."""

    program: str
    module: str
    optimizer: dict[str, Any]
    metric: dict[str, Any]
    valset_size: int
    trainset_size: int
    before: float
    after: float
    demos: dict[str, int]
    metric_calls: int
    llm: LLMUsage
    teacher_model: str
    prompt_model: str
    program_hash: str
    program_file: str
    seconds: float
    made_by: dict[str, Any]


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


def make_metric(
    name: MetricName, val_cases: list[ReferenceCase], seed: int, demo_threshold: float | None = None
) -> Metric:
    """A fresh `name` metric (from the compilable behaviour that declares it) on these val cases."""
    factories = {m: make for b in compilable().values() for m, make in b.compile.metrics.items()}
    metric = factories[name.value](val_cases, seed)
    if demo_threshold is not None:
        metric.pass_score = demo_threshold
    return metric


def evaluate(program: dspy.Module, examples: list[dspy.Example], metric: Metric) -> float:
    """Mean metric over `examples` (a failed call scores 0), with DSPy's Evaluate (autologged)."""
    result = dspy.Evaluate(
        devset=examples, metric=metric, num_threads=1, display_progress=False, failure_score=0.0
    )(program)
    # A teacher that cannot be called fails every prediction alike: stop instead of reporting 0 -> 0.
    stop_if_teacher_failed([getattr(pred, "failure", None) for _, pred, _ in result.results], "the valset")
    scores = [float(score) for _, _, score in result.results]
    return sum(scores) / len(scores) if scores else math.nan


# -- the command ---------------------------------------------------------------------------------


def report_path(out: Path) -> Path:
    return out.with_name(out.stem + ".report.json")


@contextmanager
def mlflow_run(config: CompileConfig) -> Iterator[Any]:
    """One MLflow run with DSPy autologging (compile, evals, traces); None when not tracking."""
    run_name = f"compile-{config.program.value}-{config.optimizer.value}"
    with tracked_run(EXPERIMENT, run_name, config.track) as run:
        if run is None:
            yield None
            return
        # traces of the evaluations' calls (a `trace_sample` share); the optimizer's own are not traced
        with dspy_traces(
            config.trace_sample, log_compiles=True, log_evals=True, log_traces_from_compile=False
        ):
            yield run


def compile_program(config: CompileConfig) -> CompileReport:
    """Compile `config.program` with `config.optimizer`; save the program and its report; return it."""
    started = time.perf_counter()
    train_cases, val_cases, inputs = reference_sets(config)
    part = compilable()[config.program.value].compile
    trainset = part.examples(train_cases, config.seed)[: config.max_train]
    valset = part.examples(val_cases, config.seed)[: config.max_val]
    metric = make_metric(config.metric_name, val_cases, config.seed, config.demo_threshold)
    base = load_program(config.base, config.attempts)
    attribute = part.attribute
    student = getattr(base, attribute)
    task_lm = build_lm(config.teacher)
    prompt_lm = build_lm(config.prompt_model) if config.prompt_model else task_lm
    counted = CountedMetric(metric)
    job = CompileJob(student, trainset, valset, counted, task_lm, prompt_lm)

    with (
        mlflow_run(config) as run,
        dspy.context(lm=task_lm, adapter=default_adapter(config.teacher)),
        dspy.track_usage() as usage,
    ):
        before = evaluate(student, valset, metric)
        compiled_part = run_optimizer(config, job)
        if config.keep_base_demos:
            compiled_part = with_base_demos(compiled_part, student)
        after = evaluate(compiled_part, valset, metric)
        program: SynthProgram = base.deepcopy()
        setattr(program, attribute, part_of_program(compiled_part))
        config.out.parent.mkdir(parents=True, exist_ok=True)
        program.save(str(config.out))

        # DSPy's usage tracker sees every call that generated (on any LM, copies included); a call
        # answered from the response cache reports no usage, so it is not counted here.
        ledger = TokenLedger.from_history(
            {"model": lm, "usage": entry} for lm, entries in usage.usage_data.items() for entry in entries
        )
        report = CompileReport(
            program=config.program.value,
            module=attribute,
            optimizer=optimizer_settings(config),
            metric={**metric.get_config_dict(), "option": config.metric_name.value},
            valset_size=len(valset),
            trainset_size=len(trainset),
            before=before,
            after=after,
            demos={name: len(p.demos) for name, p in compiled_part.named_predictors()},
            metric_calls=counted.calls,
            llm=ledger.as_dict(),
            teacher_model=config.teacher.model,
            prompt_model=config.prompt_model.model if config.prompt_model else config.teacher.model,
            program_hash=program_hash(program),
            program_file=str(config.out),
            seconds=round(time.perf_counter() - started, 2),
            made_by=made_by(
                "uue compile",
                config,
                [*inputs, *([config.base] if config.base else [])],
            ),
        )
        report_path(config.out).write_text(report.model_dump_json(indent=2))
        if run is not None:
            log_run(config, report)
    return report


def log_run(config: CompileConfig, report: CompileReport) -> None:
    import mlflow

    params = config.model_dump(mode="json", exclude={"teacher", "prompt_model"})
    params.update(teacher=config.teacher.model, prompt_model=report.prompt_model)
    params.update({f"metric_{k}": v for k, v in report.metric.items()})
    mlflow.log_params({k: str(v) for k, v in params.items()})
    figures = {
        "before": report.before,
        "after": report.after,
        "metric_calls": report.metric_calls,
        **{
            f"llm_{k}": v
            for k, v in report.llm.model_dump().items()
            if isinstance(v, (int, float)) and v is not None
        },
    }
    mlflow.log_metrics({k: float(v) for k, v in figures.items() if not math.isnan(float(v))})
    mlflow.set_tag("program_hash", report.program_hash)
    mlflow.log_artifact(str(config.out), artifact_path="program")
    mlflow.log_artifact(str(report_path(config.out)), artifact_path="program")
