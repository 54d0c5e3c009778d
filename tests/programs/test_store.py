"""The unit store of resumable jobs: a cut-off last line is dropped, a corrupt line is one clear error."""

from __future__ import annotations

import pytest

from uue.errors import InputError
from uue.programs.store import UnitStore


def test_a_killed_write_leaves_a_partial_line_that_is_cut_off(tmp_path):
    path = tmp_path / "progress" / "units.jsonl"
    store = UnitStore(path)
    store.add("a", {"x": 1})
    with open(path, "a") as file:
        file.write('{"key": "b", "val')  # a process killed mid-write
    again = UnitStore(path)
    assert again.keys() == {"a"} and path.read_text().endswith("}\n")


def test_case_10_a_corrupt_progress_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "phase1.jsonl"
    path.write_text('{"key": "a", "value": {}}\nnot json at all\n{"key": "c", "value": {}}\n')
    with pytest.raises(InputError, match=r"phase1\.jsonl:2: not a progress record") as error:
        UnitStore(path)
    assert "delete that line" in str(error.value)
    assert path.read_text().count("\n") == 3  # nothing was dropped or rewritten
