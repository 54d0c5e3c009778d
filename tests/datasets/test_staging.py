"""Ingest output is swapped in whole, by one writer: a failing rerun keeps the good output (case 1), a
second concurrent writer is refused with the holder's PID (case 2)."""

from __future__ import annotations

import os

import pytest

from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions
from uue.datasets.staging import single_writer
from uue.errors import ConfigError

FIXTURES = ["pushshift-fixtures/test_submissions.json", "pushshift-fixtures/test_comments.json"]


def _listing(directory):
    return sorted(
        (p.relative_to(directory).as_posix(), p.stat().st_size) for p in directory.rglob("*") if p.is_file()
    )


def test_case_1_a_failing_rerun_keeps_the_previous_output_whole(shared_data, tmp_path, monkeypatch):
    out = tmp_path / "out"
    files = [shared_data / name for name in FIXTURES]
    ingest("reddit", files, out, IngestOptions())
    (out / "notes.txt").write_text("mine")  # something else in OUT is never touched
    before = _listing(out)

    def broken(*args, **kwargs):
        yield from ()
        raise OSError("disk full")

    monkeypatch.setattr("uue.datasets.reddit.RedditParser.histories", broken)
    with pytest.raises(OSError, match="disk full"):
        ingest("reddit", files, out, IngestOptions())
    assert _listing(out) == before
    assert not list(tmp_path.glob(".out.staging*"))


def test_case_2_a_second_writer_is_refused_with_the_holders_pid(shared_data, tmp_path):
    out = tmp_path / "out"
    with single_writer(out), pytest.raises(ConfigError, match=f"being written by process {os.getpid()}"):
        ingest("reddit", [shared_data / name for name in FIXTURES], out, IngestOptions())
    assert not (out / "histories").exists()
