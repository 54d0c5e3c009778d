"""The `uue` Typer app, its console and the wrapper that turns every domain error into one line."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from uue.errors import UueError

app = typer.Typer(help="Universal user embeddings distilled from an LLM teacher.", no_args_is_help=True)
console = Console(stderr=True, emoji=False)  # `invalid_field:id:` must not become an emoji


def _print_version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"uue {version('uue')}")
        except PackageNotFoundError:  # a source tree that was never installed
            typer.echo("uue (not installed)")
        raise typer.Exit()


@app.callback()
def uue(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version")
    ] = False,
) -> None:
    """ingest → synth → train → bench → embed: universal user embeddings from raw activity histories."""


def one_line_errors(command):
    """Domain errors and options a typed config rejects become one red line and exit code 2, never
    a traceback."""
    from pydantic import ValidationError

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ValidationError as error:
            first = error.errors()[0]
            where = "-".join(map(str, first["loc"])).replace("_", "-")
            message = f"{'--' + where + ': ' if where else ''}{first['msg']}"
            console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except UueError as error:
            console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: rerun the same command to resume")
            raise typer.Exit(130) from None

    return wrapper
