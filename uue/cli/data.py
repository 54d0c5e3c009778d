"""Commands on histories and embeddings: ingest, embed, similar, merge-triplets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from uue.cli.app import app, console, one_line_errors
from uue.cli.options import config_command
from uue.datasets.options import IngestOptions
from uue.datasets.registry import Platform
from uue.errors import UueError
from uue.eval.infer import InferConfig
from uue.eval.user_vectors import Pooling


def _bytes_progress(files: list[Path]) -> tuple[Progress, callable]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    tasks = {
        path: progress.add_task(path.name, total=path.stat().st_size if path.is_file() else None)
        for path in files
    }
    return progress, lambda path, done: progress.update(tasks[path], completed=done)


@app.command()
@one_line_errors
@config_command(IngestOptions, exclude=("memory_budget_mb",), text=("since", "until", "bots"))
def ingest(
    config: IngestOptions,
    platform: Annotated[Platform, typer.Argument(help="The platform the files come from")],
    out: Annotated[Path, typer.Option(help="Output directory for histories/, report.json, quarantine.jsonl")],
    files: Annotated[list[Path] | None, typer.Argument(help="Input files (.zst, .gz, .jsonl, .json)")] = None,
    comments: Annotated[list[Path] | None, typer.Option(help="Reddit comment dumps (RC_*)")] = None,
    submissions: Annotated[list[Path] | None, typer.Option(help="Reddit submission dumps (RS_*)")] = None,
) -> None:
    """Turn raw platform dumps into per-user, time-ordered histories (a Hugging Face dataset)."""
    from uue.datasets.ingest import ingest as run_ingest

    inputs = [*(submissions or []), *(comments or []), *(files or [])]
    if not inputs:
        raise UueError("no input files", hint="pass files, or --comments/--submissions for reddit")
    progress, on_progress = _bytes_progress(inputs)
    with progress:
        report = run_ingest(platform.value, inputs, out, config, on_progress)
    for problem in report.messages:
        console.print(f"[yellow]warning:[/yellow] {escape(problem)}", highlight=False, soft_wrap=True)
    if report.problems > len(report.messages):
        console.print(
            f"[yellow]... and {report.problems - len(report.messages)} more, see {report.quarantine_path}"
        )
    console.print(
        f"[green]wrote[/green] {report.users_written:,} users, {report.records_written:,} activities "
        f"from {report.lines_read:,} lines to {out}; skipped {json.dumps(report.skipped)}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
@one_line_errors
def embed(
    model: Annotated[str, typer.Option(help="minilm | litellm:<model> | model folder")],
    histories: Annotated[Path, typer.Option(help="Directory written by `uue ingest`")],
    out: Annotated[Path, typer.Option(help="Parquet file (user_id, vector); updated in place")],
    pooling: Annotated[
        Pooling, typer.Option(help="How a history's windows become one vector")
    ] = Pooling.mean,
) -> None:
    """Embed every user's history; users whose activities did not change keep their vector."""
    from uue.datasets.histories import count_users
    from uue.eval.embed_store import embed_users
    from uue.eval.embedders import make_embedder

    progress = Progress(TextColumn("embedding users"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console)  # fmt: skip
    with progress:
        task = progress.add_task("users", total=count_users(histories))
        stats = embed_users(make_embedder(model), model, histories, out, pooling,
                            on_progress=lambda n: progress.advance(task, n))  # fmt: skip
    console.print(
        f"[green]wrote[/green] {stats.users} users to {out}: {stats.embedded} embedded, {stats.reused} unchanged"
    )


@app.command()
@one_line_errors
def similar(
    user: Annotated[str, typer.Argument(help="A user id present in the embeddings file")],
    embeddings: Annotated[Path, typer.Option(help="Parquet file written by `uue embed`")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="How many neighbours")] = 10,
) -> None:
    """The users nearest to USER (cosine similarity of user embeddings)."""
    from uue.eval.embed_store import similar_users

    for other, score in similar_users(user, embeddings, k):
        typer.echo(f"{score:.4f}\t{other}")


@app.command("merge-triplets")
@one_line_errors
def merge_triplets_command(
    triplets: Annotated[list[Path], typer.Option(help="A directory written by `uue synth`; repeat")],
    out: Annotated[Path, typer.Option(help="Output directory (triplets/, report.json)")],
) -> None:
    """Concatenate the triplets of several synth runs (e.g. shards of users), each triplet once."""
    from uue.datasets.triplets import merge_triplets

    report = merge_triplets(list(triplets), out)
    console.print(
        f"[green]wrote[/green] {report.triplets} triplets of {report.users} users to {out / 'triplets'}"
    )


@app.command()
@one_line_errors
@config_command(
    InferConfig,
    flags={"users": "--user", "statements": "--statement", "model": "--model"},
)
def infer(config: InferConfig) -> None:
    """Zero-shot preference inference: score free-text statements for each user (best first)."""
    from uue.eval.infer import run_infer

    report = run_infer(config)
    for user in report.users:
        typer.echo(user.user_id)
        for scored in user.top:
            typer.echo(f"  {scored.score:+.3f}  {scored.statement}")
    if report.out is not None:
        console.print(
            f"[green]wrote[/green] {report.out} ({len(report.users)} users x {report.statements} statements)"
        )
