"""Teacher labels as their own file: written atomically and sorted, read back exactly, and every bad
line an InputError that names the line and the field."""

from __future__ import annotations

import json

import pytest

from uue.errors import InputError
from uue.programs.labels import ActivityLabel, read_labels, write_labels


def _label(activity_id: str, specific: str = "Secured credit cards", **changes) -> ActivityLabel:
    fields = dict(activity_id=activity_id, specific=specific, broad="Personal finance", nothing=False,
                  teacher_model="local/qwen2.5-0.5b", program_hash="abc123")  # fmt: skip
    return ActivityLabel(**{**fields, **changes})


def test_labels_round_trip_sorted_by_activity_id_with_no_staging_file_left(tmp_path):
    path = tmp_path / "run" / "labels.jsonl"
    labels = [_label("t1_b"), _label("t1_a", nothing=True, specific="", broad="")]
    assert write_labels(path, labels) == 2
    assert [json.loads(line)["activity_id"] for line in path.read_text().splitlines()] == ["t1_a", "t1_b"]
    assert read_labels(path) == sorted(labels, key=lambda label: label.activity_id)
    assert list(path.parent.iterdir()) == [path]


def test_a_rewrite_replaces_the_previous_file_whole(tmp_path):
    path = tmp_path / "labels.jsonl"
    write_labels(path, [_label("t1_a"), _label("t1_b")])
    write_labels(path, [_label("t1_c")])
    assert [label.activity_id for label in read_labels(path)] == ["t1_c"]


def test_blank_lines_are_skipped_and_a_repeated_identical_label_counts_once(tmp_path):
    line = _label("t1_a").model_dump_json()
    path = tmp_path / "labels.jsonl"
    path.write_text(f"{line}\n\n{line}\n   \n")
    assert read_labels(path) == [_label("t1_a")]


def test_a_missing_file_says_how_to_write_one(tmp_path):
    with pytest.raises(InputError, match=r"labels.jsonl: file not found \(write labels with `uue synth"):
        read_labels(tmp_path / "labels.jsonl")


def _error(tmp_path, *lines: str) -> InputError:
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as caught:
        read_labels(path)
    return caught.value


def test_a_line_that_is_not_json_is_named(tmp_path):
    error = _error(tmp_path, _label("t1_a").model_dump_json(), '{"activity_id": ')
    assert error.line == 2 and error.field is None and "not JSON" in str(error)


def test_a_missing_or_unknown_field_is_named_with_its_line(tmp_path):
    good = json.loads(_label("t1_a").model_dump_json())
    missing = {k: v for k, v in good.items() if k != "broad"}
    error = _error(tmp_path, json.dumps(missing))
    assert (error.line, error.field) == (1, "broad") and "Field required" in str(error)
    error = _error(tmp_path, json.dumps(good), json.dumps({**good, "activity_id": "t1_b", "score": 1}))
    assert (error.line, error.field) == (2, "score")
    error = _error(tmp_path, json.dumps({**good, "nothing": "perhaps"}))
    assert str(error).startswith(f"{tmp_path / 'labels.jsonl'}:1: field 'nothing': ")


def test_an_activity_labelled_twice_differently_is_an_error(tmp_path):
    error = _error(
        tmp_path, _label("t1_a").model_dump_json(), _label("t1_a", "Credit scores").model_dump_json()
    )
    assert (error.line, error.field) == (2, "activity_id")
    assert "activity labelled twice, differently" in str(error)
