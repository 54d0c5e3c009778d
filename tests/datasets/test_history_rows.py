"""`HistoryRows` (the parsers' fast path) and `History` objects write the same Parquet rows, and
the context, stored apart, joins back into the same histories."""

from __future__ import annotations

import pyarrow.parquet as pq

from tests.dev_triplets import write_toy_corpus
from uue.datasets import histories as histories_module
from uue.datasets.histories import activity_owners, iter_histories, write_histories
from uue.datasets.records import Activity, ContextMessage, History, HistoryRows, Source, ThreadContext


def _histories() -> list[History]:
    reply = Activity(
        activity_id="t1_c2",
        user_id="alice",
        platform="reddit",
        kind="comment",
        timestamp=20,
        text="me too",
        context=ThreadContext(
            "College", "Dorm tips?", "Any?", "bob", [ContextMessage("carol", "bring a fan")]
        ),
        thread_id="t3_s1",
        source=Source("RC.zst", 7, ["t1_c2", "t3_s1", "t1_c1"]),
    )
    chat = Activity("m1", "alice", "reddit", "chat", 30, "no provenance", source=None)
    post = Activity(
        "t3_s1", "bob", "reddit", "submission", 10, "Dorm tips?\n\nAny?", ThreadContext("College")
    )
    return [
        History("alice", "reddit", [reply, chat]),
        History("bob", "reddit", [post]),
        History("eve", "reddit", []),
    ]


def test_rows_round_trip_to_the_same_history():
    for history in _histories():
        rows = HistoryRows(history.user_id, history.platform, [a.to_row() for a in history.activities])
        assert rows.to_history() == history


def test_rows_and_objects_write_equal_tables(tmp_path):
    histories = _histories()
    as_rows = [HistoryRows(h.user_id, h.platform, [a.to_row() for a in h.activities]) for h in histories]
    assert write_histories(histories, tmp_path / "objects") == (3, 3)
    assert write_histories(as_rows, tmp_path / "rows") == (3, 3)
    tables = [pq.read_table(tmp_path / name / "histories") for name in ("objects", "rows")]
    assert tables[0].equals(tables[1])
    assert list(iter_histories(tmp_path / "rows")) == histories


def test_only_empty_histories_write_a_table(tmp_path):
    write_histories([HistoryRows("eve", "reddit", [])], tmp_path)
    assert [(h.user_id, h.activities) for h in iter_histories(tmp_path)] == [("eve", [])]


def test_same_thread_id_with_other_context_keeps_each_context(tmp_path):
    """A parser that gives two activities one thread_id but different thread text loses neither."""
    first, second = (
        Activity(f"c{i}", "alice", "chat", "message", i, "hi", ThreadContext("room", title), thread_id="t")
        for i, title in ((1, "Monday"), (2, "Tuesday"))
    )
    history = History("alice", "chat", [first, second])
    write_histories([history], tmp_path)
    assert [a.context.title for a in next(iter_histories(tmp_path)).activities] == ["Monday", "Tuesday"]


def test_messages_without_ids_are_stored_once_by_content(tmp_path):
    parents = [ContextMessage("carol", "bring a fan")]
    replies = [
        Activity(f"c{i}", user, "chat", "message", i, "ok", ThreadContext("room", "", "", "", parents))
        for i, user in enumerate(["alice", "bob"])
    ]
    write_histories([History("alice", "chat", replies[:1]), History("bob", "chat", replies[1:])], tmp_path)
    assert pq.read_table(tmp_path / "messages").num_rows == 1
    assert [h.activities[0].context.parents for h in iter_histories(tmp_path)] == [parents, parents]


def test_same_thread_id_with_other_context_in_a_later_batch_keeps_each_context(tmp_path, monkeypatch):
    monkeypatch.setattr(histories_module, "ROWS_PER_WRITE", 1)  # one user per batch
    users = [
        History(user, "chat", [Activity(f"c-{user}", user, "chat", "message", 1, "hi", ThreadContext("room", title), thread_id="t")])
        for user, title in (("alice", "Monday"), ("bob", "Tuesday"))
    ]  # fmt: skip
    write_histories(users, tmp_path)
    assert [h.activities[0].context.title for h in iter_histories(tmp_path)] == ["Monday", "Tuesday"]


def test_activity_owners_reads_the_stored_histories(tmp_path):
    histories_dir, _ = write_toy_corpus(tmp_path, n_users=12)
    owners = activity_owners(str(histories_dir))  # a str path as well as a Path
    stored = list(iter_histories(str(histories_dir)))
    assert owners == {a.activity_id: h.user_id for h in stored for a in h.activities}
