"""`uue bench`: the triplet bench and, optionally, the user tasks, as one report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from uue.errors import UueError
from uue.eval.bench import BenchConfig, BenchReport, is_baseline, load_triplets, run_bench
from uue.eval.bench_tracking import log_bench
from uue.eval.embedders import make_embedder
from uue.eval.report import write_report
from uue.eval.tasks import Task, TaskConfig, run_tasks
from uue.tracking import tracked_run


def run_suite(
    config: BenchConfig,
    tasks: Sequence[Task] = (),
    task_config: TaskConfig | None = None,
    on_model: Callable[[str], None] | None = None,
) -> BenchReport:
    """Bench every `config.models` on the triplets, then on `tasks` (held-out users of `task_config`);
    writes report.json to `config.out` (default: `TRIPLETS.bench` beside the input) and returns it.
    `on_model(spec)` after each model's triplets and each model's tasks (progress)."""
    if tasks and task_config is None:
        raise ValueError("tasks need a TaskConfig")
    with tracked_run("uue-bench", f"bench-{config.triplets.name}", config.track) as run:
        embedders = {spec: make_embedder(spec) for spec in dict.fromkeys(config.models)}
        report = run_bench(config, embedders, on_model)
        table = load_triplets(config.triplets) if tasks or run is not None else None  # read once for both
        if tasks:
            trained = [spec for spec in embedders if not is_baseline(spec)]
            report.tasks = run_tasks(list(tasks), embedders, task_config, table, trained, on_model)
        report.report_path = str(write_report(report, config.out or default_out(config)))
        if run is not None:
            log_bench(config, report, task_config, embedders, table)
    return report


def bench_command(
    config: BenchConfig,
    tasks: Sequence[Task] = (),
    held_out: bool = False,
    histories: Path | None = None,
    labels: Path | None = None,
    valid_fraction: float = TaskConfig.model_fields["valid_fraction"].default,
    max_users: int | None = TaskConfig.model_fields["max_users"].default,
    on_model: Callable[[str], None] | None = None,
) -> BenchReport:
    """`uue bench`: the triplets of held-out users only with `held_out`, the `tasks` on the held-out
    users of `histories` (the same split), one report."""
    if tasks and histories is None:
        raise UueError("--task needs --histories")
    if held_out:
        config = config.model_copy(update={"valid_fraction": valid_fraction})
    task_config = None
    if tasks:
        task_config = TaskConfig(
            histories=histories,
            triplets=config.triplets,
            labels=labels,
            valid_fraction=valid_fraction,
            max_users=max_users,
            seed=config.seed,
        )
    return run_suite(config, tasks, task_config, on_model)


def default_out(config: BenchConfig):
    """Beside the triplets, never inside the input folder: `runs/synth` -> `runs/synth.bench`."""
    return config.triplets.with_name(config.triplets.name + ".bench")
