"""Every public reader and writer takes a path as `str` or `Path` (issue 16): the same result either way."""

from __future__ import annotations

from pathlib import Path

from tests.dev_triplets import write_toy_corpus
from uue.datasets.histories import count_users, iter_histories, load_histories
from uue.datasets.triplets import merge_triplets
from uue.eval.bench import load_triplets
from uue.programs.labels import ActivityLabel, read_labels, write_labels
from uue.programs.program import SynthProgram, load_program, program_hash
from uue.tracking import triplets_input


def test_readers_and_writers_take_str_paths(tmp_path):
    histories, triplets = write_toy_corpus(tmp_path, n_users=8)
    assert count_users(str(histories)) == count_users(histories) == 8
    assert len(load_histories(str(histories))) == 8 and len(list(iter_histories(str(histories)))) == 8
    assert load_triplets(str(triplets))["triplet_id"] == load_triplets(triplets)["triplet_id"]
    assert triplets_input(str(triplets)).digest == triplets_input(triplets).digest
    merged = merge_triplets([str(triplets)], str(tmp_path / "merged"))
    assert merged.triplets == len(load_triplets(triplets))

    label = ActivityLabel(activity_id="a1", specific="Dorm cooking", broad="Food", nothing=False,
                          teacher_model="test", program_hash="test")  # fmt: skip
    assert write_labels(str(tmp_path / "labels.jsonl"), [label]) == 1
    assert read_labels(str(tmp_path / "labels.jsonl")) == read_labels(tmp_path / "labels.jsonl") == [label]

    SynthProgram().save(str(tmp_path / "program.json"))
    assert program_hash(load_program(str(tmp_path / "program.json"))) == program_hash(
        load_program(Path(tmp_path / "program.json"))
    )
