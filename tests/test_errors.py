"""Domain errors are one line: the message, then the hint in parentheses; input errors name file,
line and field."""

from __future__ import annotations

import pytest

from uue.errors import ConfigError, InputError, TeacherError, UueError


def test_the_hint_follows_the_message_in_parentheses_only_when_given():
    assert str(UueError("no input files")) == "no input files"
    assert str(UueError("no input files", hint="pass files")) == "no input files (pass files)"
    assert UueError("x", hint="pass files").hint == "pass files"


def test_input_errors_name_the_file_then_the_line_then_the_field():
    error = InputError("data/RC.jsonl", "not a string", line=12, field="body", hint="fix the dump")
    assert str(error) == "data/RC.jsonl:12: field 'body': not a string (fix the dump)"
    assert (error.path, error.line, error.field) == ("data/RC.jsonl", 12, "body")
    assert str(InputError("data/RC.jsonl", "file not found")) == "data/RC.jsonl: file not found"
    assert str(InputError("a.jsonl", "bad", line=0)) == "a.jsonl:0: bad"  # line 0 is a line, not "none"
    assert str(InputError("a.jsonl", "missing", field="id")) == "a.jsonl: field 'id': missing"


@pytest.mark.parametrize("kind", [InputError, ConfigError, TeacherError])
def test_every_domain_error_is_a_uue_error_the_cli_can_catch(kind):
    assert issubclass(kind, UueError)
    with pytest.raises(UueError):
        raise (kind("path", "message") if kind is InputError else kind("message"))


def test_a_class_level_hint_is_kept_unless_one_is_passed():
    class Offline(UueError):
        hint = "pip install 'uue[local]'"

    assert str(Offline("no engine")) == "no engine (pip install 'uue[local]')"
    assert str(Offline("no engine", hint="other")) == "no engine (other)"
