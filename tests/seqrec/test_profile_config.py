"""`uue seqrec profiles`' config: a local teacher runs one call at a time, a remote one may have workers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from uue.programs.lm import TeacherConfig
from uue.seqrec.profile_config import ProfileJobConfig


def _config(tmp_path, **changes) -> ProfileJobConfig:
    return ProfileJobConfig(data=tmp_path / "Beauty.txt", out=tmp_path / "profiles", **changes)


def test_the_defaults_are_a_local_teacher_and_one_worker(tmp_path):
    config = _config(tmp_path)
    assert config.teacher.is_local and config.workers == 1
    assert (config.max_items, config.attempts, config.embedder, config.items) == (30, 2, "minilm", None)


def test_a_local_teacher_refuses_concurrent_workers(tmp_path):
    with pytest.raises(ValidationError, match="a local teacher runs one call at a time: use --workers 1"):
        _config(tmp_path, workers=2)
    with pytest.raises(ValidationError, match="one call at a time"):
        _config(tmp_path, teacher=TeacherConfig(model="local:models/own.gguf"), workers=4)


def test_a_remote_teacher_may_run_users_concurrently(tmp_path):
    config = _config(tmp_path, teacher=TeacherConfig(model="openai/gpt-4o-mini"), workers=8)
    assert config.workers == 8 and not config.teacher.is_local


@pytest.mark.parametrize("changes", [{"max_items": 0}, {"workers": 0}, {"max_users": 0}, {"profile": "x"}])
def test_bad_values_and_unknown_keys_are_rejected(tmp_path, changes):
    with pytest.raises(ValidationError):
        _config(tmp_path, **changes)
