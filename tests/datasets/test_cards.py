"""Dataset cards: `datasets.load_dataset(DIR)` loads histories and triplets; a card holds no data."""

from __future__ import annotations

import datasets

from uue.datasets.histories import iter_histories, load_histories
from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions

FIXTURES = ["pushshift-fixtures/test_submissions.json", "pushshift-fixtures/test_comments.json"]


def test_histories_load_with_the_datasets_library_and_leave_no_cache_in_the_folder(shared_data, tmp_path):
    out = tmp_path / "h"
    tally = ingest("reddit", [shared_data / f for f in FIXTURES], out, IngestOptions())
    users = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(users) == tally.users_written and "activities" in users.column_names
    configs = datasets.get_dataset_config_names(str(out))
    assert configs[0] == "histories"
    for name in configs[1:]:  # the context parts that have rows
        assert (
            len(datasets.load_dataset(str(out), name, split="train", cache_dir=str(tmp_path / "cache"))) > 0
        )
    assert len(load_histories(str(out))) == tally.users_written  # a str path is fine
    assert not list(out.glob(".hf-cache*"))
    card = (out / "README.md").read_text()
    assert not [h.user_id for h in iter_histories(out) if h.user_id in card]


def test_triplets_load_with_the_datasets_library(tmp_path):
    from tests.dev_triplets import write_toy_corpus

    _, triplets_dir = write_toy_corpus(tmp_path, n_users=6)
    from uue.programs.synth_output import write_dataset

    rows = datasets.load_from_disk(str(triplets_dir / "triplets")).to_list()
    write_dataset(rows, tmp_path / "synth" / "triplets")
    loaded = datasets.load_dataset(str(tmp_path / "synth"), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(loaded) == len(rows) and loaded["positive"] == [r["positive"] for r in rows]
