"""Reddit ingestion on the real shared dumps: thread context, counts, provenance, both indexes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from uue.datasets.histories import iter_histories, load_histories
from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions, parse_date


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_full_dump_counts_add_up(full_reddit):
    report = _report(full_reddit)
    assert report["lines_read"] == 460_203 + 29_416
    assert report["lines_read"] == report["records_written"] + sum(report["skipped"].values())
    assert report["skipped"]["deleted_author"] > 0 and report["skipped"]["bot_author"] > 0
    assert report["quarantined"] == 0
    assert report["made_by"]["command"] == "uue ingest reddit"
    assert {Path(i["path"]).name for i in report["made_by"]["inputs"]} == {
        "RS_reddit-college.zst",
        "RC_reddit-college.zst",
    }


def test_known_comment_has_its_thread_and_parent_chain(full_reddit):
    # r/AskAcademia t3_og99xm: --MCMC-- answers I_neh, who answered --MCMC--'s own top-level comment.
    (history,) = iter_histories(full_reddit, users={"--MCMC--"})
    activity = next(a for a in history.activities if a.activity_id == "t1_h4iepjq")
    assert activity.text == "nope -- Emigrant Lake in California :]"
    assert activity.context.community == "AskAcademia"
    assert activity.context.title == "Did you buy yourselves a nice gift when you defended your PhD?"
    assert activity.context.root_author == "adastraandback"
    assert [p.author for p in activity.context.parents] == ["--MCMC--", "I_neh"]  # oldest first
    assert activity.context.parents[1].text == "Is the 3rd pic St. Mary's Glacier?"
    assert activity.context.parents[0].text.startswith("I got myself a camera (a used Sony a7iii)")
    assert activity.thread_id == "t3_og99xm"
    assert activity.source.record_ids == ["t1_h4iepjq", "t3_og99xm", "t1_h4hlq7z", "t1_h4ibbem"]
    assert activity.source.file.endswith("RC_reddit-college.zst") and activity.source.line == 244043


def test_histories_are_time_ordered_and_never_deleted_or_bot_users(full_reddit):
    users = pq.read_table(full_reddit / "histories", columns=["user_id"]).column("user_id").to_pylist()
    assert "[deleted]" not in users and "AutoModerator" not in users and "" not in users
    assert len(users) == len(set(users)) == _report(full_reddit)["users_written"]
    for history in iter_histories(full_reddit, users=set(users[:300])):
        stamps = [a.timestamp for a in history.activities]
        assert stamps == sorted(stamps)
        assert all(a.user_id == history.user_id for a in history.activities)


def test_histories_load_as_a_hugging_face_dataset(full_reddit):
    dataset = load_histories(full_reddit)
    assert dataset.num_rows == _report(full_reddit)["users_written"]
    assert set(dataset.features) == {"user_id", "platform", "num_activities", "activities"}


def test_memory_and_disk_indexes_write_the_same_histories(reddit_slice, tmp_path):
    tables = []
    for index in ("memory", "disk"):
        ingest("reddit", reddit_slice, tmp_path / index, IngestOptions(index=index, min_activities=2))
        tables.append(pq.read_table(tmp_path / index / "histories"))
    assert tables[0].num_rows > 100
    assert tables[0].equals(tables[1])
    memory, disk = (list(iter_histories(tmp_path / index)) for index in ("memory", "disk"))
    assert memory == disk  # with the context joined back in
    assert sum(bool(a.context.parents) for h in memory for a in h.activities) > 100
    # The columnar (memory) path writes each thread and parent message once.
    for subdir, key in (("threads", "context_id"), ("messages", "message_id")):
        ids = pq.read_table(tmp_path / "memory" / subdir)[key].to_pylist()
        assert ids and len(ids) == len(set(ids))
    assert _report(tmp_path / "memory")["skipped"] == _report(tmp_path / "disk")["skipped"]


@pytest.mark.parametrize(
    "options",
    [
        IngestOptions(min_activities=5),
        IngestOptions(max_users=25),
        IngestOptions(since=parse_date("2012-01-01"), until=parse_date("2013-01-01")),
    ],
    ids=["min-activities", "max-users", "time-window"],
)
def test_filters_keep_the_count_invariant(reddit_slice, tmp_path, options):
    tally = ingest("reddit", reddit_slice, tmp_path, options)
    assert tally.balanced
    histories = list(iter_histories(tmp_path))
    assert all(len(h.activities) >= options.min_activities for h in histories)
    if options.max_users:
        assert len(histories) == 25 and tally.skipped["over_max_users"] > 0
    if options.since:
        assert all(options.since <= a.timestamp < options.until for h in histories for a in h.activities)
        assert tally.skipped["outside_time_range"] > 0


def test_max_users_keeps_the_most_active(reddit_slice, tmp_path):
    ingest("reddit", reddit_slice, tmp_path / "all", IngestOptions())
    ingest("reddit", reddit_slice, tmp_path / "top", IngestOptions(max_users=10))
    sizes = sorted((len(h.activities) for h in iter_histories(tmp_path / "all")), reverse=True)
    top = sorted((len(h.activities) for h in iter_histories(tmp_path / "top")), reverse=True)
    assert top == sizes[:10]


def test_pushshift_2024_records_with_every_real_field(shared_data, tmp_path):
    folder = shared_data / "pushshift-fixtures"
    tally = ingest(
        "reddit", [folder / "test_submissions.json", folder / "test_comments.json"], tmp_path, IngestOptions()
    )
    assert tally.lines_read == 27 + 31 and tally.balanced and tally.quarantined == 0
    activities = [a for h in iter_histories(tmp_path) for a in h.activities]
    comment = next(a for a in activities if a.activity_id == "t1_kod0bkd")
    assert comment.user_id == "DubsAli" and comment.context.community == "woodworking"
    assert comment.timestamp == 1706745600 and comment.text.startswith("Absolutely stunning.")
    assert {a.kind for a in activities} == {"comment", "submission"}
