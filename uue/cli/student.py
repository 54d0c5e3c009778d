"""Commands on the student: train, the recipe (student), and bench (baselines vs students)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from uue.cli.app import app, console, one_line_errors
from uue.cli.options import config_command
from uue.eval.bench import BenchConfig
from uue.eval.tasks import Task, TaskConfig
from uue.trainers.merge import MergeConfig
from uue.trainers.recipe_config import RecipeConfig
from uue.trainers.student_config import TrainConfig
from uue.twotower.config import TwoTowerConfig

TASK_FIELDS = TaskConfig.model_fields  # `bench --task` options share their help and defaults


@app.command()
@one_line_errors
@config_command(
    TrainConfig,
    exclude=("tracking_uri", "run_name"),
    text=("matryoshka_dims",),
    flags={"register_as": "--register"},
)
def train(config: TrainConfig) -> None:
    """Train the student bi-encoder on teacher triplets and/or same-user pairs, tracked in MLflow."""
    from uue.trainers.student import train as run_train

    result = run_train(config)
    console.print(f"[green]saved[/green] {config.out} (MLflow run {result.run_id} at {config.tracking_uri})")
    for name, value in sorted(result.metrics.items()):
        console.print(f"  {name} = {value:.4f}", highlight=False)


@app.command()
@one_line_errors
@config_command(RecipeConfig, flags={"baselines": "--baseline"})
def student(config: RecipeConfig) -> None:
    """The student recipe: same-user pairs and teacher triplets, then the held-out table against the baselines."""
    from uue.eval.heldout import markdown_table
    from uue.trainers.recipe import run_recipe

    report = run_recipe(config)
    typer.echo(markdown_table(report.held_out))
    console.print(f"[green]wrote[/green] {report.best_model} and {config.out / 'report.json'}")


@app.command()
@one_line_errors
@config_command(MergeConfig)
def merge(config: MergeConfig) -> None:
    """One student from a model and its fine-tuned descendant: weight averaging (WiSE-FT)."""
    from uue.trainers.merge import merge_models

    console.print(f"[green]wrote[/green] {merge_models(config)}")


@app.command()
@one_line_errors
@config_command(
    BenchConfig,
    exclude=("valid_fraction",),
    flags={"models": "--model", "red_flag_recall_at_1": "--red-flag"},
)
def bench(
    config: BenchConfig,
    held_out: Annotated[
        bool,
        typer.Option(
            "--held-out", help="Only held-out users' triplets (the --valid-fraction split of `uue train`)"
        ),
    ] = False,
    valid_fraction: Annotated[
        float, typer.Option(help=TASK_FIELDS["valid_fraction"].description)
    ] = TASK_FIELDS["valid_fraction"].default,
    task: Annotated[list[Task] | None, typer.Option(help="Also rank users on this task; repeat")] = None,
    histories: Annotated[Path | None, typer.Option(help="Histories for --task (from `uue ingest`)")] = None,
    max_users: Annotated[int, typer.Option(help=TASK_FIELDS["max_users"].description)] = TASK_FIELDS[
        "max_users"
    ].default,
    labels: Annotated[
        Path | None, typer.Option(help="Teacher labels (labels.jsonl) for --task statements")
    ] = None,
) -> None:
    """How well do off-the-shelf embedders and trained students rank each user's own interest? Verdict + report.json."""
    from rich.console import Console as StdoutConsole
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from uue.eval.report import bench_table, comparison_table, task_table, verdict_lines
    from uue.eval.suite import bench_command

    steps = len(set(config.models)) * (2 if task else 1)  # each model: its triplets, then its tasks
    progress = Progress(TextColumn("bench: done {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)  # fmt: skip
    with progress:
        bar = progress.add_task("", total=steps)
        report = bench_command(config, task or [], held_out, histories, labels, valid_fraction, max_users,
                               on_model=lambda spec: progress.update(bar, advance=1, description=spec))  # fmt: skip
    stdout = StdoutConsole()
    stdout.print(bench_table(report))
    if task:
        stdout.print(task_table(report.tasks.results))
    if report.comparisons or (report.tasks and report.tasks.comparisons):
        stdout.print(comparison_table(report))
    for line in verdict_lines(report):
        stdout.print(line, soft_wrap=True)
    console.print(f"[green]wrote[/green] {report.report_path}")


@app.command("train-two-tower")
@one_line_errors
@config_command(TwoTowerConfig)
def train_two_tower_command(config: TwoTowerConfig) -> None:
    """Train seed 003's two-tower model (attention-pooled user tower, statement tower) on teacher labels."""
    from uue.twotower.train import train_two_tower

    report = train_two_tower(config)
    console.print(
        f"[green]saved[/green] {report.model}: {report.steps} steps over {report.examples} examples of "
        f"{report.users} users, {report.users_per_second} users/s, final loss {report.final_loss:.3f}"
    )
