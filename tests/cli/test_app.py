"""The CLI's edge: every domain error, rejected option, teacher failure and unwritable path becomes one
red line and exit code 2 (130 for Ctrl-C), and secrets never reach that line."""

from __future__ import annotations

import pytest
import typer
from dspy.utils.exceptions import LMRateLimitError, LMTimeoutError
from typer.testing import CliRunner

from uue.cli import app
from uue.cli.app import one_line_errors, redacted, teacher_error_line
from uue.datasets.options import IngestOptions
from uue.errors import ConfigError, InputError


def _run(error_or_call, capsys) -> tuple[int, str]:
    """Exit code and stderr of a command that raises `error_or_call` (or runs it) under the wrapper."""

    @one_line_errors
    def command():
        if isinstance(error_or_call, BaseException):
            raise error_or_call
        return error_or_call()

    with pytest.raises(typer.Exit) as caught:
        command()
    return caught.value.exit_code, capsys.readouterr().err


def test_a_domain_error_is_one_line_with_its_hint(capsys):
    code, err = _run(InputError("RC.jsonl", "not JSON", line=3, hint="fix the dump"), capsys)
    assert (code, err) == (2, "error: RC.jsonl:3: not JSON (fix the dump)\n")


def test_rich_markup_in_a_message_is_printed_as_it_is(capsys):
    code, err = _run(ConfigError("unknown model '[bold]x'"), capsys)
    assert err == "error: unknown model '[bold]x'\n"


def test_a_rejected_option_names_the_flag(capsys):
    code, err = _run(lambda: IngestOptions(min_activities=0), capsys)
    assert (code, err) == (2, "error: --min-activities: Input should be greater than or equal to 1\n")
    code, err = _run(lambda: IngestOptions(since=200, until=100), capsys)  # a model-level check: no flag
    assert err == "error: Value error, --since must be before --until\n"


def test_a_teacher_failure_is_one_line_with_the_fix(capsys):
    code, err = _run(LMRateLimitError("429 Too Many Requests\nretry later", model="openai/x"), capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: the teacher call failed (LMRateLimitError): [openai/x] 429 Too Many")
    assert "lower --workers" in err


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (FileExistsError(17, "File exists", "runs/out"), "is a file, not a folder (choose another --out)"),
        (
            PermissionError(13, "Permission denied", "runs/out"),
            "permission denied (choose a path you can write)",
        ),
        (OSError(28, "No space left on device", "runs/out"), "No space left on device"),
    ],
)
def test_a_path_that_cannot_be_used_is_one_line_naming_it(error, why, capsys):
    assert _run(error, capsys) == (2, f"error: runs/out: {why}\n")


def test_an_os_error_without_a_path_is_a_real_bug_and_not_hidden(capsys):
    @one_line_errors
    def command():
        raise OSError("socket closed")

    with pytest.raises(OSError, match="socket closed"):
        command()


def test_ctrl_c_says_how_to_resume_and_exits_130(capsys):
    code, err = _run(KeyboardInterrupt(), capsys)
    assert code == 130 and "rerun the same command to resume" in err


def test_the_wrapper_keeps_the_commands_name_and_result():
    @one_line_errors
    def ingest(platform: str) -> str:
        """Docs."""
        return platform.upper()

    assert (ingest.__name__, ingest.__doc__, ingest("reddit")) == ("ingest", "Docs.", "REDDIT")


def test_secret_environment_values_and_key_like_strings_are_redacted(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "abcdefgh12345")
    monkeypatch.setenv("HF_TOKEN", "tok")  # shorter than 8 characters: left alone
    monkeypatch.setenv("HOME_DIR", "abcdefgh12345xyz")  # not a *_KEY / *_TOKEN / *_SECRET name
    text = "sent abcdefgh12345 and sk-proj_ABCDEFGH123 and tok, home abcdefgh12345xyz"
    assert redacted(text) == "sent [redacted] and [redacted] and tok, home [redacted]xyz"
    assert redacted("a plain sentence with sk-short") == "a plain sentence with sk-short"


def test_a_teacher_error_line_keeps_only_the_first_300_characters_of_the_first_line():
    line = teacher_error_line(LMTimeoutError("x" * 500 + "\nsecond line"))
    assert "x" * 300 in line and "x" * 301 not in line and "second line" not in line
    assert line.endswith("(raise --call-timeout, or use a faster teacher)")


def test_version_prints_the_package_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("uue ")
