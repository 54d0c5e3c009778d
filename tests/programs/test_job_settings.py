"""A resumable teacher job keeps the settings its finished units were made with: a rerun with other
ones stops and names what differs, unless nothing was finished yet or a restart is forced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uue.errors import ConfigError
from uue.programs.job_settings import SETTINGS_FILE, check_job_settings

SETTINGS = {"teacher": "local/qwen", "max_positives": 3, "program": Path("runs/compiled")}


def _finish_a_unit(out: Path) -> None:
    (out / "progress" / "units-0.jsonl").write_text('{"user": "alice"}\n')


def test_a_new_job_writes_its_settings_as_sorted_json(tmp_path):
    check_job_settings(tmp_path, SETTINGS)
    saved = (tmp_path / SETTINGS_FILE).read_text()
    assert json.loads(saved) == {"max_positives": 3, "program": "runs/compiled", "teacher": "local/qwen"}
    assert saved.index("max_positives") < saved.index("program") < saved.index("teacher")


def test_a_resume_with_the_same_settings_goes_on(tmp_path):
    check_job_settings(tmp_path, SETTINGS)
    _finish_a_unit(tmp_path)
    check_job_settings(tmp_path, {**SETTINGS, "program": "runs/compiled"})  # a Path is saved as its text


def test_a_resume_with_other_settings_names_every_difference(tmp_path):
    check_job_settings(tmp_path, SETTINGS)
    _finish_a_unit(tmp_path)
    changed = {"teacher": "openai/gpt-4o-mini", "max_positives": 3, "program": "runs/compiled", "seed": 1}
    with pytest.raises(ConfigError) as caught:
        check_job_settings(tmp_path, changed)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: its finished units were made with other settings (")
    assert "seed None -> 1, teacher 'local/qwen' -> 'openai/gpt-4o-mini')" in message
    assert "max_positives" not in message and "--force-restart" in message
    assert json.loads((tmp_path / SETTINGS_FILE).read_text())["teacher"] == "local/qwen"  # kept


def test_a_job_that_finished_nothing_may_change_anything(tmp_path):
    check_job_settings(tmp_path, SETTINGS)
    (tmp_path / "progress" / "units-0.jsonl").write_text("")  # a dead teacher: an empty unit file
    check_job_settings(tmp_path, {"teacher": "openai/gpt-4o-mini"})
    assert json.loads((tmp_path / SETTINGS_FILE).read_text()) == {"teacher": "openai/gpt-4o-mini"}


def test_force_restart_deletes_the_finished_units_and_starts_over(tmp_path):
    check_job_settings(tmp_path, SETTINGS)
    _finish_a_unit(tmp_path)
    check_job_settings(tmp_path, {"teacher": "openai/gpt-4o-mini"}, force_restart=True)
    assert sorted(p.name for p in (tmp_path / "progress").iterdir()) == ["settings.json"]
    assert json.loads((tmp_path / SETTINGS_FILE).read_text()) == {"teacher": "openai/gpt-4o-mini"}
