"""The Reddit parser's two indexes keep one contract: the first row of an id wins, skipped rows are
counted by reason, and activity counts cover [since, until). Then each index's own join: SQLite's
rows and parents, and the in-memory columns' history batches (thread once, parents oldest first)."""

from __future__ import annotations

import pytest

from uue.datasets.reddit_columns import MemoryIndex, history_batches
from uue.datasets.reddit_index import RedditIndex, SqliteIndex

# comment: (id, author, body, subreddit, link_id, parent_id, created, file, line, skip); link_id is the
# bare submission id (`t3_` stripped), parent_id the fullname
C1 = ("c1", "bob", "Cook most nights.", "College", "s1", "t3_s1", 110, 0, 1, "")
C2 = ("c2", "carol", "Same, pasta mostly.", "College", "s1", "t1_c1", 120, 0, 2, "")
C3 = ("c3", "alice", "The smallest plan then.", "College", "s1", "t1_c2", 130, 0, 3, "")
C4 = ("c4", "alice", "Ask the bursar.", "College", "gone", "t3_gone", 130, 0, 4, "")
C5 = ("c5", "alice", "[removed]", "College", "s1", "t3_s1", 140, 0, 5, "removed_body")
C1_AGAIN = ("c1", "mallory", "a duplicate line", "College", "s1", "t3_s1", 111, 0, 9, "")
# submission: (id, author, title, selftext, subreddit, created, file, line, skip)
S1 = ("s1", "alice", "Which meal plan?", "Freshman here.", "College", 100, 1, 1, "")
S2 = ("s2", "AutoModerator", "Weekly thread", "", "College", 105, 1, 2, "bot_author")


def _index(kind: str, tmp_path) -> RedditIndex:
    return SqliteIndex(tmp_path / "index.sqlite") if kind == "disk" else MemoryIndex()


def _loaded(kind: str, tmp_path) -> RedditIndex:
    index = _index(kind, tmp_path)
    index.add([C1, C2], [S1])
    index.add([C3, C4, C5, C1_AGAIN], [S2])
    return index


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_the_first_row_of_an_id_wins_and_skips_are_counted_by_reason(kind, tmp_path):
    index = _loaded(kind, tmp_path)
    unique, skipped = index.finish()
    assert unique == 7 and skipped == {"removed_body": 1, "bot_author": 1}
    assert dict(index.activity_counts(0, 1000)) == {"alice": 3, "bob": 1, "carol": 1}  # no mallory
    index.close()


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_activity_counts_cover_a_half_open_window(kind, tmp_path):
    index = _loaded(kind, tmp_path)
    index.finish()
    assert dict(index.activity_counts(110, 130)) == {"bob": 1, "carol": 1}
    assert dict(index.activity_counts(130, 131)) == {"alice": 2}
    assert dict(index.activity_counts(1000, 2000)) == {}
    index.close()


def test_sqlite_rows_join_their_thread_and_parents_are_looked_up_by_id(tmp_path):
    index = _loaded("disk", tmp_path)
    index.finish()
    comments, submissions = index.user_rows(["alice"], 0, 1000)
    assert sorted(comments) == [
        (*C3[:9], "Which meal plan?", "Freshman here.", "alice"),
        (*C4[:9], "", "", ""),  # the thread is not in the input
    ]
    assert submissions == [S1]
    assert sorted(index.parents(["c2", "c1", "c9"])) == [("c1", "bob", "Cook most nights.", "t3_s1"),
                                                         ("c2", "carol", "Same, pasta mostly.", "t1_c1")]  # fmt: skip
    index.close()
    assert not (tmp_path / "index.sqlite").exists()


def _histories(index: MemoryIndex, authors: list[str], max_depth: int, users_per_batch: int = 10):
    index.finish()
    return list(
        history_batches(index, authors, 0, 1000, max_depth, ["RC.jsonl", "RS.jsonl"], users_per_batch)
    )


def test_memory_histories_are_time_ordered_with_ties_broken_by_activity_id(tmp_path):
    [batch] = _histories(_loaded("memory", tmp_path), ["alice"], max_depth=8)
    [alice] = batch.histories.to_pylist()
    activities = alice["activities"]
    assert alice["num_activities"] == 3
    assert [a["activity_id"] for a in activities] == ["t3_s1", "t1_c3", "t1_c4"]  # c3 and c4 both at 130
    assert [a["kind"] for a in activities] == ["submission", "comment", "comment"]
    assert activities[0]["text"] == "Which meal plan?\n\nFreshman here."
    assert activities[1]["parent_ids"] == ["t1_c1", "t1_c2"]  # oldest first
    assert activities[1]["source"] == {
        "file": "RC.jsonl",
        "line": 3,
        "record_ids": ["t1_c3", "t3_s1", "t1_c1", "t1_c2"],
    }
    assert activities[2]["context_id"] == "" and activities[2]["parent_ids"] == []  # nothing to join


def test_memory_parent_chains_stop_at_max_depth_keeping_the_nearest(tmp_path):
    [batch] = _histories(_loaded("memory", tmp_path), ["alice"], max_depth=1)
    assert batch.histories.to_pylist()[0]["activities"][1]["parent_ids"] == ["t1_c2"]
    assert batch.messages.to_pylist() == [
        {"message_id": "t1_c2", "author": "carol", "text": "Same, pasta mostly."}
    ]


def test_memory_batches_write_each_thread_and_message_once(tmp_path):
    batches = _histories(_loaded("memory", tmp_path), ["alice", "carol"], max_depth=8, users_per_batch=1)
    assert [b.histories["user_id"].to_pylist() for b in batches] == [["alice"], ["carol"]]
    threads = [t for b in batches for t in b.threads["context_id"].to_pylist()]
    messages = [m for b in batches for m in b.messages["message_id"].to_pylist()]
    assert threads == ["t3_s1"]  # carol's reply is in the same thread: not written again
    assert sorted(messages) == ["t1_c1", "t1_c2"]
    assert batches[0].threads.to_pylist() == [
        {"context_id": "t3_s1", "title": "Which meal plan?", "body": "Freshman here.", "root_author": "alice"}
    ]
