"""Domain errors. The CLI turns each into a one-line message with a hint; no traceback reaches the user."""

from __future__ import annotations


class UueError(Exception):
    """Base class: `str(error)` is the one line the user sees."""

    hint: str = ""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} ({self.hint})" if self.hint else message


class InputError(UueError):
    """A problem with a user-supplied file: names the file, and the line or field when known."""

    def __init__(
        self, path: str, message: str, line: int | None = None, field: str | None = None, hint: str = ""
    ):
        where = str(path) + (f":{line}" if line is not None else "")
        what = f"field '{field}': {message}" if field else message
        super().__init__(f"{where}: {what}", hint)
        self.path, self.line, self.field = str(path), line, field


class ConfigError(UueError):
    """An option or a config file that cannot work (unknown model, bad value, missing dependency)."""


class TeacherError(UueError):
    """The teacher LM failed in a way retries cannot fix (unreachable server, model missing)."""
