"""The `uue` command line: wires the stages together; the work lives in the subpackages."""

from __future__ import annotations

from uue.programs.lm.offline import ensure_offline_defaults

ensure_offline_defaults()  # before anything imports litellm: no network refresh may block a run

import functools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402

from uue.errors import UueError  # noqa: E402

app = typer.Typer(help="Universal user embeddings distilled from an LLM teacher.", no_args_is_help=True)
console = Console(stderr=True)


def one_line_errors(command):
    """Domain errors become one red line and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UueError as error:
            console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: rerun the same command to resume")
            raise typer.Exit(130) from None

    return wrapper


def _bytes_progress(files: list[Path]) -> tuple[Progress, callable]:
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=console
    )
    tasks = {path: progress.add_task(path.name, total=path.stat().st_size if path.is_file() else None) for path in files}
    return progress, lambda path, done: progress.update(tasks[path], completed=done)


@app.command()
@one_line_errors
def ingest(
    platform: Annotated[str, typer.Argument(help="reddit | synthpai (see `uue.datasets.registry`)")],
    out: Annotated[Path, typer.Option(help="Output directory for histories/, report.json, quarantine.jsonl")],
    files: Annotated[list[Path] | None, typer.Argument(help="Input files (.zst, .gz, .jsonl, .json)")] = None,
    comments: Annotated[list[Path] | None, typer.Option(help="Reddit comment dumps (RC_*)")] = None,
    submissions: Annotated[list[Path] | None, typer.Option(help="Reddit submission dumps (RS_*)")] = None,
    min_activities: Annotated[int, typer.Option(help="Leave out users with fewer activities")] = 1,
    max_users: Annotated[int | None, typer.Option(help="Keep only the N most active users")] = None,
    since: Annotated[str | None, typer.Option(help="Only activities from this date (YYYY-MM-DD, UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="Only activities before this date (YYYY-MM-DD, UTC)")] = None,
    max_parent_depth: Annotated[int, typer.Option(help="Parent comments kept per activity")] = 8,
    bots: Annotated[str | None, typer.Option(help="Comma-separated bot accounts (replaces the default list)")] = None,
) -> None:
    """Parse raw platform dumps into per-user, time-ordered histories (a Hugging Face dataset)."""
    from uue.datasets.ingest import ingest as run_ingest
    from uue.datasets.options import IngestOptions, parse_date

    inputs = [*(submissions or []), *(comments or []), *(files or [])]
    if not inputs:
        raise UueError("no input files", hint="pass files, or --comments/--submissions for reddit")
    options = IngestOptions(
        min_activities=min_activities,
        max_users=max_users,
        since=parse_date(since),
        until=parse_date(until),
        max_parent_depth=max_parent_depth,
        bots=frozenset(b.strip() for b in bots.split(",") if b.strip()) if bots is not None else None,
    )
    progress, on_progress = _bytes_progress(inputs)
    with progress:
        tally = run_ingest(platform, inputs, out, options, on_progress)
    for problem in tally.problems:
        console.print(f"[yellow]warning:[/yellow] {problem}", highlight=False, soft_wrap=True)
    if tally.problem_count > len(tally.problems):
        console.print(f"[yellow]... and {tally.problem_count - len(tally.problems)} more, see {tally.quarantine_path}")
    summary = tally.as_dict()
    console.print(
        f"[green]wrote[/green] {summary['users_written']:,} users, {summary['records_written']:,} activities "
        f"from {summary['lines_read']:,} lines to {out}; skipped {json.dumps(summary['skipped'])}",
        highlight=False,
        soft_wrap=True,
    )


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
