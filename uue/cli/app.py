"""The `uue` Typer app, its console and the wrapper that turns every domain error into one line."""

from __future__ import annotations

import functools
import os
import re
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from dspy.utils.exceptions import (
    LMAuthError,
    LMError,
    LMRateLimitError,
    LMServerError,
    LMTimeoutError,
    LMTransportError,
)
from rich.console import Console
from rich.markup import escape

from uue.errors import UueError

_FIXES = {
    LMAuthError: "check the provider's API key in the environment",
    LMTransportError: "is the server up and --api-base right?",
    LMServerError: "the server failed; rerun later (the finished units are kept)",
    LMRateLimitError: "rate limited; rerun later or lower --workers",
    LMTimeoutError: "raise --call-timeout, or use a faster teacher",
}
_SECRET = re.compile(r"(sk|pk|hf|ghp|xox[abp])[-_][A-Za-z0-9_-]{8,}")


def redacted(text: str) -> str:
    """`text` without the values of *_KEY / *_TOKEN / *_SECRET environment variables or key-like strings
    (a server may echo the key it was sent)."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and name.upper().endswith(("_KEY", "_TOKEN", "_SECRET")):
            text = text.replace(value, "[redacted]")
    return _SECRET.sub("[redacted]", text)


def teacher_error_line(error: LMError) -> str:
    first = (str(error).strip().splitlines() or [""])[0][:300]
    fix = next(
        (hint for kind, hint in _FIXES.items() if isinstance(error, kind)), "check --teacher and --api-base"
    )
    return redacted(f"the teacher call failed ({type(error).__name__}): {first} ({fix})")


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


_PATH_ERRORS = {
    FileExistsError: "is a file, not a folder (choose another --out)",
    NotADirectoryError: "a part of this path is a file, not a folder",
    IsADirectoryError: "is a folder, a file is wanted here",
    PermissionError: "permission denied (choose a path you can write)",
}


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
        except LMError as error:  # raised by DSPy after its own retries: one line, the model, the fix
            console.print(
                f"[red]error:[/red] {escape(teacher_error_line(error))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None
        except OSError as error:  # a path that cannot be written or read: --out is a file, no permission
            if error.filename is None:
                raise
            why = _PATH_ERRORS.get(type(error), error.strerror or str(error))
            message = f"{error.filename}: {why}"
            console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: rerun the same command to resume")
            raise typer.Exit(130) from None

    return wrapper
