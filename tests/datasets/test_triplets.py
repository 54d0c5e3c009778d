import json

import datasets
import pytest

from uue.datasets.triplets import TRIPLET_FEATURES, merge_triplets, split_by_user
from uue.errors import InputError
from uue.eval.split import is_held_out


def _synth_output(directory, ids):
    rows = [
        {name: [] if isinstance(feature, datasets.List) else "" for name, feature in TRIPLET_FEATURES.items()}
        | {"triplet_id": tid, "user_id": f"user-{tid}", "judge_score": float("nan")}
        for tid in ids
    ]
    datasets.Dataset.from_list(rows, features=TRIPLET_FEATURES).save_to_disk(str(directory / "triplets"))
    (directory / "report.json").write_text(json.dumps({"triplets": len(ids)}))
    return directory


def test_merge_keeps_each_triplet_once_and_records_its_sources(tmp_path):
    first = _synth_output(tmp_path / "a", ["t1", "t2"])
    second = _synth_output(tmp_path / "b", ["t2", "t3"])
    assert merge_triplets([first, second], tmp_path / "merged").triplets == 3
    merged = datasets.load_from_disk(str(tmp_path / "merged" / "triplets"))
    assert merged["triplet_id"] == ["t1", "t2", "t3"] and merged.features == TRIPLET_FEATURES
    report = json.loads((tmp_path / "merged" / "report.json").read_text())
    assert report["triplets"] == 3 and [r["triplets"] for r in report["source_reports"]] == [2, 2]
    card = datasets.load_dataset(str(tmp_path / "merged"), "triplets", split="train")  # its README's configs
    assert card["triplet_id"] == ["t1", "t2", "t3"]


def test_merge_names_a_directory_without_triplets(tmp_path):
    with pytest.raises(InputError, match="no triplets"):
        merge_triplets([tmp_path], tmp_path / "out")


def test_the_user_split_is_a_dataset_dict_with_the_split_of_uue_train(tmp_path):
    directory = _synth_output(tmp_path / "s", [f"t{i}" for i in range(40)])
    table = datasets.load_from_disk(str(directory / "triplets"))
    parts, split = split_by_user(table, 0.3)
    assert isinstance(parts, datasets.DatasetDict) and len(parts["train"]) + len(parts["validation"]) == 40
    assert set(parts["validation"]["user_id"]) == {u for u in table["user_id"] if is_held_out(u, 0.3)}
    assert not set(parts["train"]["user_id"]) & set(parts["validation"]["user_id"])
    assert set(parts["train"]["user_id"]) == set(split.train)
