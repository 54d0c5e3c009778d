"""The DSPy optimizers `uue compile` can run: one table row per optimizer (its settings and its run).

Adding one: a `_settings` function (what is logged and passed to the constructor), a `_compile`
function, and one row in `OPTIMIZERS` with a new `OptimizerName`. DSPy's optimizers return a
compiled copy: the student is never changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dspy

from uue.optimizers.compile_config import CompileConfig, OptimizerName
from uue.optimizers.metrics import GEPAFeedback


class CountedMetric:
    """The metric, counting its calls (the optimizer's budget is spent in metric calls)."""

    def __init__(self, metric: Callable):
        self.metric, self.calls = metric, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.metric(*args, **kwargs)


@dataclass(frozen=True)
class CompileJob:
    """What an optimizer compiles: the student module, its data, the counted metric and the LMs."""

    student: dspy.Module
    trainset: list[dspy.Example]
    valset: list[dspy.Example]
    metric: CountedMetric
    task_lm: dspy.LM
    prompt_lm: dspy.LM


def _demo_settings(config: CompileConfig) -> dict[str, Any]:
    return {"max_bootstrapped_demos": config.max_demos, "max_labeled_demos": config.max_labeled_demos}


def _bootstrap(config: CompileConfig, job: CompileJob, settings: dict[str, Any]) -> dspy.Module:
    from dspy.teleprompt import BootstrapFewShot

    return BootstrapFewShot(metric=job.metric, max_rounds=1, **settings).compile(
        job.student, trainset=job.trainset
    )


def _random_search_settings(config: CompileConfig) -> dict[str, Any]:
    return {**_demo_settings(config), "num_candidate_programs": config.num_candidates}


def _random_search(config: CompileConfig, job: CompileJob, settings: dict[str, Any]) -> dspy.Module:
    from dspy.teleprompt import BootstrapFewShotWithRandomSearch

    optimizer = BootstrapFewShotWithRandomSearch(metric=job.metric, num_threads=1, **settings)
    return optimizer.compile(job.student, trainset=job.trainset, valset=job.valset)


def _mipro_settings(config: CompileConfig) -> dict[str, Any]:
    return {
        **_demo_settings(config),
        "auto": config.auto,
        "num_candidates": None if config.auto else config.num_candidates,
    }


def _mipro(config: CompileConfig, job: CompileJob, settings: dict[str, Any]) -> dspy.Module:
    from dspy.teleprompt import MIPROv2

    optimizer = MIPROv2(
        metric=job.metric,
        prompt_model=job.prompt_lm,
        task_model=job.task_lm,
        num_threads=1,
        seed=config.seed,
        track_stats=False,
        **settings,
    )
    return optimizer.compile(
        job.student,
        trainset=job.trainset,
        valset=job.valset,
        num_trials=None if config.auto else config.num_candidates * 2,
        minibatch=len(job.valset) > 35,
        requires_permission_to_run=False,
    )


def _gepa_settings(config: CompileConfig) -> dict[str, Any]:
    capped = config.max_metric_calls is not None
    return {"auto": None if capped else config.auto, "max_metric_calls": config.max_metric_calls}


def _gepa(config: CompileConfig, job: CompileJob, settings: dict[str, Any]) -> dspy.Module:
    from dspy.teleprompt import GEPA

    job.metric.metric = GEPAFeedback(job.metric.metric)  # GEPA reflects on text feedback
    optimizer = GEPA(
        metric=job.metric,
        reflection_lm=job.prompt_lm,
        num_threads=1,
        seed=config.seed,
        track_stats=False,
        **settings,
    )
    return optimizer.compile(job.student, trainset=job.trainset, valset=job.valset)


@dataclass(frozen=True)
class Optimizer:
    settings: Callable[[CompileConfig], dict[str, Any]]  # logged, and passed to the constructor
    compile: Callable[[CompileConfig, CompileJob, dict[str, Any]], dspy.Module]


OPTIMIZERS: dict[OptimizerName, Optimizer] = {
    OptimizerName.bootstrap: Optimizer(_demo_settings, _bootstrap),
    OptimizerName.random_search: Optimizer(_random_search_settings, _random_search),
    OptimizerName.mipro: Optimizer(_mipro_settings, _mipro),
    OptimizerName.gepa: Optimizer(_gepa_settings, _gepa),
}


def optimizer_settings(config: CompileConfig) -> dict[str, Any]:
    """The settings the chosen optimizer runs with (logged and written to the report)."""
    return {
        "optimizer": config.optimizer.value,
        "seed": config.seed,
        **OPTIMIZERS[config.optimizer].settings(config),
    }


def run_optimizer(config: CompileConfig, job: CompileJob) -> dspy.Module:
    """A compiled copy of `job.student` (DSPy's optimizers `reset_copy`/`deepcopy` their student)."""
    optimizer = OPTIMIZERS[config.optimizer]
    return optimizer.compile(config, job, optimizer.settings(config))


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
    """Clear DSPy's `_compiled` flag (no public setter exists): a module marked compiled is frozen, and
    its parent's `named_parameters`, `dump_state` and `save` skip it, so the saved program would lose it."""
    compiled._compiled = False
    return compiled
