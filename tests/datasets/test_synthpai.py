from __future__ import annotations

from uue.datasets.histories import iter_histories
from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions


def test_synthpai_release_becomes_300_ordered_histories(shared_data, tmp_path):
    tally = ingest(
        "synthpai", [shared_data / "synthpai/comments_eval_revised.jsonl"], tmp_path, IngestOptions()
    )
    assert (tally.lines_read, tally.records_read, tally.records_written, tally.users_written) == (
        300,
        7785,
        7785,
        300,
    )
    (history,) = iter_histories(tmp_path, users={"SpiralSphinx"})
    assert len(history.activities) == 55
    assert history.activities[0].text.startswith("Staircases outside brick houses")
    assert [a.timestamp for a in history.activities] == list(range(55))


def test_synthpai_filters_and_bad_lines(shared_data, tmp_path):
    source = (shared_data / "synthpai/comments_eval_revised.jsonl").read_bytes().splitlines()[:3]
    path = tmp_path / "three.jsonl"
    path.write_bytes(b"\n".join([source[0], b'{"username": 1}', source[1], source[2]]) + b"\n")
    tally = ingest("synthpai", [path], tmp_path / "out", IngestOptions(max_users=1))
    assert tally.users_written == 1 and tally.skipped["over_max_users"] > 0
    assert tally.skipped["missing_field:username/comments"] == 1 and tally.balanced
