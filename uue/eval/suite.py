"""`uue bench`: the triplet bench and, optionally, the user tasks, as one report."""

from __future__ import annotations

from collections.abc import Sequence

from uue.eval.bench import BenchConfig, BenchReport, is_baseline, load_triplets, run_bench
from uue.eval.embedders import make_embedder
from uue.eval.report import write_report
from uue.eval.tasks import Task, TaskConfig, run_tasks


def run_suite(
    config: BenchConfig, tasks: Sequence[Task] = (), task_config: TaskConfig | None = None
) -> BenchReport:
    """Bench every `config.models` on the triplets, then on `tasks` (held-out users of `task_config`);
    writes report.json to `config.out` (default: the triplets directory) and returns the report."""
    if tasks and task_config is None:
        raise ValueError("tasks need a TaskConfig")
    embedders = {spec: make_embedder(spec) for spec in dict.fromkeys(config.models)}
    report = run_bench(config, embedders)
    if tasks:
        trained = [spec for spec in embedders if not is_baseline(spec)]
        report.tasks = run_tasks(list(tasks), embedders, task_config, load_triplets(config.triplets), trained)
    report.report_path = str(write_report(report, config.out or config.triplets))
    return report
