"""The ingest tally: every rejected line is quarantined verbatim with its reason, the user sees the
first problems in one line each, and the report says whether every record is accounted for."""

from __future__ import annotations

import base64
import json

import pytest

from uue.datasets.tally import MAX_PRINTED_PROBLEMS, IngestReport, IngestTally


@pytest.fixture
def tally(tmp_path):
    tally = IngestTally(tmp_path / "out" / "quarantine.jsonl").open()
    yield tally
    tally.close()


def _quarantined(tally: IngestTally) -> list[dict]:
    tally.close()
    return [json.loads(line) for line in tally.quarantine_path.read_text().splitlines()]


def test_a_rejected_line_is_kept_verbatim_with_file_line_and_reason(tally):
    tally.reject("RC.jsonl", 7, "bad_json", b'{"id": "c1", "body": "caf\xc3\xa9\r', "Expecting ','")
    assert _quarantined(tally) == [
        {
            "file": "RC.jsonl",
            "line": 7,
            "reason": "bad_json",
            "detail": "Expecting ','",
            "raw": '{"id": "c1", "body": "café\r',
        }
    ]
    assert tally.skipped == {"bad_json": 1} and tally.quarantined == 1
    assert tally.problems == ["RC.jsonl:7: bad_json: Expecting ',' (quarantined)"]


def test_bytes_that_are_not_utf8_are_kept_as_base64(tally):
    raw = b'{"body": "\xff\xfe"}'
    tally.reject("RC.jsonl", 3, "bad_utf8", raw)
    [entry] = _quarantined(tally)
    assert "raw" not in entry and base64.b64decode(entry["raw_base64"]) == raw
    assert tally.problems == ["RC.jsonl:3: bad_utf8 (quarantined)"]  # no detail, no trailing colon


def test_only_the_first_problems_are_kept_but_all_are_counted(tally):
    for line in range(MAX_PRINTED_PROBLEMS + 5):
        tally.problem(f"RC.jsonl:{line}: odd")
    assert tally.problem_count == MAX_PRINTED_PROBLEMS + 5
    assert tally.problems == [f"RC.jsonl:{line}: odd" for line in range(MAX_PRINTED_PROBLEMS)]


def test_skips_are_counted_by_reason_and_a_zero_count_adds_no_reason(tally):
    tally.skip("deleted_author")
    tally.skip("deleted_author", 2)
    tally.skip("bot_author", 0)
    assert tally.skipped == {"deleted_author": 3}


def test_balanced_means_every_record_read_was_written_or_skipped(tally):
    tally.records_read, tally.records_written = 10, 6
    tally.skip("deleted_author", 3)
    assert not tally.balanced()
    tally.reject("RC.jsonl", 9, "bad_json", b"{")
    assert tally.balanced()


def test_the_report_carries_every_figure_with_reasons_sorted(tally):
    tally.lines_read = tally.records_read = 5
    tally.records_written, tally.users_written = 3, 2
    tally.skip("removed_body")
    tally.reject("RS.jsonl", 4, "bad_json", b"{")
    report = tally.report("reddit", seconds=1.23456, made_by={"command": "uue ingest reddit"})
    assert isinstance(report, IngestReport)
    assert list(report.skipped) == ["bad_json", "removed_body"]
    assert report.balanced and report.quarantined == 1 and report.problems == 1
    assert report.messages == ["RS.jsonl:4: bad_json (quarantined)"]
    assert report.seconds == 1.23 and report.quarantine_path == tally.quarantine_path
    saved = json.loads(report.model_dump_json())
    assert saved["platform"] == "reddit" and saved["made_by"] == {"command": "uue ingest reddit"}


def test_closing_twice_is_harmless_and_open_creates_the_folder(tmp_path):
    tally = IngestTally(tmp_path / "a" / "b" / "quarantine.jsonl").open()
    tally.close()
    tally.close()
    assert tally.quarantine_path.read_text() == ""
