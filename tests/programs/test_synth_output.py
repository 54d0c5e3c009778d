"""What both synth modes share: which users are chosen, and the triplet dataset saved whole (never
half), empty or not, with its card beside it."""

from __future__ import annotations

import datasets
import pytest

from tests.dev_triplets import dev_triplets_from_histories, toy_histories
from uue.programs.synth_config import SynthConfig
from uue.programs.synth_output import select_users, synth_run, write_dataset


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return dev_triplets_from_histories(toy_histories(n_users=4))


def test_users_are_taken_in_storage_order_once_they_have_enough_activities(histories_dir):
    # alice has 5 activities, bob 4, carol 3 (tests/programs/conftest.py)
    assert [h.user_id for h in select_users(histories_dir, None, 1)] == ["alice", "bob", "carol"]
    assert [h.user_id for h in select_users(histories_dir, None, 4)] == ["alice", "bob"]
    assert [h.user_id for h in select_users(histories_dir, 1, 4)] == ["alice"]
    assert select_users(histories_dir, None, 6) == []
    assert len(select_users(histories_dir, 2, 1)[0].activities) == 5  # whole histories


def test_the_dataset_round_trips_and_gets_a_card_in_its_parent(rows, tmp_path):
    write_dataset(rows, tmp_path / "synth" / "triplets")
    loaded = datasets.load_from_disk(str(tmp_path / "synth" / "triplets"))
    assert loaded["triplet_id"] == [r["triplet_id"] for r in rows]
    assert loaded[0]["cluster_activity_ids"] == rows[0]["cluster_activity_ids"]
    card = (tmp_path / "synth" / "README.md").read_text()
    assert f"{len(rows):,} (query, positive, negative) training triplets" in card
    assert "triplets/*.arrow" in card
    assert sorted(p.name for p in (tmp_path / "synth").iterdir()) == ["README.md", "triplets"]


def test_a_rewrite_replaces_the_dataset_and_a_killed_write_is_cleaned_up(rows, tmp_path):
    target = tmp_path / "synth" / "triplets"
    write_dataset(rows, target)
    (tmp_path / "synth" / "triplets.tmp").mkdir()  # left by a run killed while saving
    (tmp_path / "synth" / "triplets.tmp" / "half.arrow").write_bytes(b"\x00")
    write_dataset(rows[:1], target)
    assert len(datasets.load_from_disk(str(target))) == 1
    assert not (tmp_path / "synth" / "triplets.tmp").exists()


def test_zero_triplets_save_as_a_loadable_empty_dataset(tmp_path):
    write_dataset([], tmp_path / "synth" / "triplets")
    empty = datasets.load_from_disk(str(tmp_path / "synth" / "triplets"))
    assert len(empty) == 0 and "positive" in empty.column_names
    assert "0 (query, positive, negative)" in (tmp_path / "synth" / "README.md").read_text()


def test_an_untracked_synth_opens_no_mlflow_run(tmp_path):
    config = SynthConfig(histories=tmp_path / "h", out=tmp_path / "out", track=False)
    with synth_run(config) as run:
        assert run is None
