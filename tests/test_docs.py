"""Docs and flags agree: every `uue ...` command shown in README.md and docs/*.md names a real command,
and every `--option` it uses exists on that command (values are not checked: they are examples)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command

from uue.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands() -> list[tuple[str, str]]:
    """(file:line, command line) of every `uue ...` line inside a fenced code block."""
    found = []
    for path in DOCS:
        lines, fenced, start, pending = path.read_text().splitlines(), False, 0, ""
        for number, line in enumerate(lines, start=1):
            if line.strip().startswith("```"):
                fenced, pending = not fenced, ""
                continue
            if not fenced:
                continue
            text = line.strip()
            if pending:
                pending += " " + text
            elif re.match(r"(\$ )?uue [a-z]", text):
                pending, start = text.removeprefix("$ "), number
            else:
                continue
            if pending.endswith("\\"):
                pending = pending[:-1]
                continue
            found.append((f"{path.name}:{start}", pending))
            pending = ""
    return found


def makefile_commands() -> list[tuple[str, str]]:
    """(Makefile:line, command) of every `$(BIN)/uue ...` recipe line, continuations joined."""
    found, pending, start = [], "", 0
    for number, line in enumerate((ROOT / "Makefile").read_text().splitlines(), start=1):
        text = line.strip()
        if not pending and "$(BIN)/uue " not in text:
            continue
        if not pending:
            pending, start = text[text.index("$(BIN)/uue ") :].replace("$(BIN)/uue", "uue"), number
        else:
            pending += " " + text
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        found.append((f"Makefile:{start}", pending.split(" || ")[0]))
        pending = ""
    return found


def resolve(tokens: list[str]):
    command = get_command(app)
    tokens = tokens[1:]  # "uue"
    while tokens and hasattr(command, "commands") and tokens[0] in command.commands:
        command, tokens = command.commands[tokens[0]], tokens[1:]
    return command, tokens


COMMANDS = shown_commands() + makefile_commands()


def test_the_docs_show_commands():
    assert len(COMMANDS) > 30  # the parser found the code blocks


@pytest.mark.parametrize(("where", "line"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_every_shown_option_exists(where, line):
    tokens = shlex.split(line, comments=True)
    command, rest = resolve(tokens)
    assert not hasattr(command, "commands"), f"{where}: `{line}` names no command"
    known = {opt for param in command.params for opt in [*param.opts, *getattr(param, "secondary_opts", [])]}
    used = [t.strip("[]()").split("=")[0] for t in rest if t.strip("[]()").startswith("-")]
    unknown = [opt for opt in used if opt not in known]
    assert not unknown, f"{where}: `{line}` uses {unknown}, not options of `{command.name}`"
