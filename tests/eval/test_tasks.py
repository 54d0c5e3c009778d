"""The downstream user tasks on hand-made users whose topics a keyword embedder can see: who the
queries, candidates and targets are for `reid`, `next-subreddit` and `interests` (the user's other
labels masked), the held-out users, and the shape of `run_tasks`' results and comparisons."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dev_triplets import toy_histories
from tests.eval.test_user_vectors import WordVectors
from uue.datasets.histories import write_histories
from uue.datasets.records import Activity, History, ThreadContext
from uue.errors import ConfigError
from uue.eval.embedders import BM25Embedder
from uue.eval.split import is_held_out
from uue.eval.tasks import (
    Task,
    TaskConfig,
    held_out_histories,
    interest_ranks,
    next_subreddit_ranks,
    reid_ranks,
    run_tasks,
    task_ranks,
)
from uue.eval.user_vectors import Pooling

TOPICS = ["cooking", "cycling", "knitting"]
MEAN = [Pooling.mean]


class Keywords(WordVectors):
    """Dense: how often each topic word occurs in a text, normalised; records what it encodes."""

    name = "keywords"

    def __init__(self):
        super().__init__(max_tokens=10_000, dim=len(TOPICS))

    def vectors(self, texts) -> np.ndarray:
        counts = np.array([[text.lower().count(topic) for topic in TOPICS] for text in texts], dtype=float)
        return counts / np.maximum(np.linalg.norm(counts, axis=1, keepdims=True), 1e-12)  # [n, 3]


class Constant(Keywords):
    def vectors(self, texts) -> np.ndarray:
        return np.ones((len(texts), len(TOPICS))) / len(TOPICS) ** 0.5


def _user(user: str, *communities: str) -> History:
    """One activity per community, oldest first, each naming only its community (`r/<community>`)."""
    activities = [
        Activity(
            f"{user}-a{i}",
            user,
            "reddit",
            "comment",
            1_600_000_000 + 60 * i,
            f"note {user} {i}",
            ThreadContext(community=community),
            thread_id=f"t-{user}-{i}",
        )  # fmt: skip
        for i, community in enumerate(communities)
    ]
    return History(user, "reddit", activities)


@pytest.fixture
def users() -> list[History]:
    return [
        _user("cook", "cooking", "cooking", "cooking", "cooking"),
        _user("rider", "cycling", "cycling", "cycling", "cycling"),
        _user("knitter", "knitting", "knitting", "knitting", "knitting"),
    ]


def test_reid_queries_the_older_half_against_every_users_newer_half(users):
    embedder = Keywords()
    assert reid_ranks(embedder, users, MEAN)[Pooling.mean].tolist() == [0, 0, 0]
    queries, documents = embedder.calls[0][1], embedder.calls[1][1]
    assert [("note cook 0" in t, "note cook 2" in t) for t in queries + documents if "cook " in t] == [
        (True, False),
        (False, True),
    ]
    # every score tied: each target is ranked below every other user (ties count against it)
    assert reid_ranks(Constant(), users, MEAN)[Pooling.mean].tolist() == [2, 2, 2]


def test_next_subreddit_ranks_every_subreddit_name_without_the_last_activity(users):
    switcher = _user(
        "switcher", "cooking", "cooking", "cycling", "cycling"
    )  # r/cooking 2, r/cycling 1 before
    unplaced = _user("unplaced", "knitting", "")  # no subreddit on the last activity: left out
    embedder = Keywords()
    ranks = next_subreddit_ranks(embedder, [*users, switcher, unplaced], MEAN)[Pooling.mean]
    assert ranks.tolist() == [0, 0, 0, 1]
    assert ("documents", ["r/cooking", "r/cycling", "r/knitting"]) in embedder.calls
    assert not any("note switcher 3" in text for _, texts in embedder.calls for text in texts)


def _row(user: str, activity: str, positive: str, broad: str) -> dict:
    return {
        "user_id": user,
        "cluster_activity_ids": [activity],
        "positive": positive,
        "positive_broad": broad,
    }


def test_interests_rank_the_removed_cluster_label_with_the_users_other_labels_masked():
    cook_rider = _user("cr", "cooking", "cooking", "cooking", "cycling", "cycling")
    knitter = _user("kn", "knitting", "knitting", "knitting")
    rows = [
        _row("cr", "cr-a4", "Cycling gear", "Sport: cycling"),  # query: 3 cooking, 1 cycling
        _row("cr", "cr-a2", "Cooking at home", "Food: cooking"),
        _row("kn", "kn-a2", "Knitting patterns", "Crafts: knitting"),
        _row("nobody", "x-a0", "Chess openings", "Games"),  # not a held-out user with a history: ignored
    ]
    found = interest_ranks(Keywords(), [cook_rider, knitter], rows, MEAN)[Pooling.mean]
    # "Cooking at home" scores above "Cycling gear" for the first query, but it is the user's own other label
    assert found["specific"].tolist() == [0, 0, 0] and found["broad"].tolist() == [0, 0, 0]


def test_interests_need_two_rows_of_held_out_users(users):
    with pytest.raises(ConfigError, match="fewer than 2 triplets belong to held-out users"):
        interest_ranks(Keywords(), users, [_row("cook", "cook-a0", "Pasta", "Food")], MEAN)


def test_lexical_models_get_the_last_window_only_and_interests_need_triplets(users, tmp_path):
    config = TaskConfig(histories=tmp_path)
    assert list(task_ranks(Task.reid, BM25Embedder(), config, users)) == ["last"]
    assert sorted(task_ranks(Task.reid, Keywords(), config, users)) == ["mean", "recency"]
    with pytest.raises(ConfigError, match="the interests task needs --triplets"):
        task_ranks(Task.interests, Keywords(), config, users)


@pytest.fixture(scope="module")
def histories_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tasks") / "histories"
    write_histories(toy_histories(n_users=24), folder)
    return folder


def test_held_out_users_are_the_splits_with_enough_activities(histories_dir):
    config = TaskConfig(histories=histories_dir, valid_fraction=0.25)
    held_out = [h.user_id for h in held_out_histories(config)]
    assert held_out == [f"user{i:03d}" for i in range(24) if is_held_out(f"user{i:03d}", 0.25)]
    assert len(held_out) == 8
    assert len(held_out_histories(config.model_copy(update={"max_users": 3}))) == 3
    with pytest.raises(ConfigError, match="only 0 held-out users with >= 7 activities"):
        held_out_histories(config.model_copy(update={"min_activities": 7}))


def test_run_tasks_summarises_each_model_and_compares_the_trained_one_per_user(histories_dir):
    config = TaskConfig(histories=histories_dir, valid_fraction=0.25, resamples=10)
    embedders = {"runs/student": WordVectors(max_tokens=200), "minilm": Keywords()}
    out = run_tasks([Task.reid, Task.next_subreddit], embedders, config, trained=["runs/student"])
    assert out.users == 8 and sorted(out.results) == ["minilm", "runs/student"]
    reid = out.results["runs/student"]["reid"]
    assert sorted(reid) == ["mean", "recency"] and sorted(reid["mean"]) == ["reid"]
    leaf = reid["mean"]["reid"]
    assert leaf["n"] == {"mean": 8, "ci_low": 8, "ci_high": 8}
    assert leaf["recall@1"]["ci_low"] <= leaf["recall@1"]["mean"] <= leaf["recall@1"]["ci_high"]
    [pair] = out.comparisons
    assert pair == "runs/student - minilm"
    assert sorted(out.comparisons[pair]) == ["next-subreddit", "reid"]
    assert "n" not in out.comparisons[pair]["reid"]["mean"]["reid"]
