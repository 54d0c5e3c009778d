"""Triplets from labels: the query leaves the thread out, is never empty, and negatives are never the
user's own interests (or near-duplicates of them, or of the positive)."""

from __future__ import annotations

import numpy as np

from uue.datasets.records import Activity, History, ThreadContext
from uue.datasets.render import approximate_tokens
from uue.programs.label_job import choose_activities
from uue.programs.label_triplets import LabelPool, QueryScope, candidate_negatives, labelled_queries
from uue.programs.labels import ActivityLabel


def _activity(user: str, i: int, thread: str) -> Activity:
    return Activity(f"{user}{i}", user, "reddit", "comment", i, f"{user} says thing number {i} here",
                    ThreadContext("College", f"title {thread}"), thread)  # fmt: skip


def _label(activity_id: str, specific: str) -> ActivityLabel:
    return ActivityLabel(activity_id=activity_id, specific=specific, broad="Area", nothing=False,
                         teacher_model="m", program_hash="h")  # fmt: skip


class TableEmbedder:
    """Vectors looked up by text: the label pool's geometry is set by hand."""

    name = "table"
    max_tokens = 256

    def __init__(self, vectors: dict[str, list[float]], default: list[float]):
        self.vectors, self.default = vectors, default

    def count_tokens(self, text: str) -> int:
        return approximate_tokens(text)

    def _encode(self, texts):
        rows = np.array([self.vectors.get(t, self.default) for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    encode_queries = encode_documents = _encode

    def score(self, queries, documents):
        return self._encode(queries) @ self._encode(documents).T


def test_a_user_with_one_thread_gets_no_request_and_no_empty_query():
    lonely = History("solo", "reddit", [_activity("solo", i, "t3_same") for i in range(4)])
    assert choose_activities(lonely, per_user=5, min_words=2) == []
    queries, empty = labelled_queries([lonely], {"solo0": _label("solo0", "Topic")}, 256, approximate_tokens)
    assert queries == [] and empty == 1


def test_the_query_leaves_the_labelled_thread_out():
    history = History("ann", "reddit", [_activity("ann", 0, "t3_a"), _activity("ann", 1, "t3_b"),
                                         _activity("ann", 2, "t3_a")])  # fmt: skip
    queries, empty = labelled_queries([history], {"ann2": _label("ann2", "Topic")}, 256, approximate_tokens)
    assert empty == 0 and len(queries) == 1
    assert "thing number 1" in queries[0].query and "number 0" not in queries[0].query
    assert queries[0].thread_activity_ids == ["ann0", "ann2"] and queries[0].query_activity_ids == ["ann1"]


def test_negatives_skip_own_labels_their_near_duplicates_and_the_positives():
    users = {"ann": ["Organic chemistry labs", "Dorm roommates"], "ben": ["Organic chem lab work", "Student loans"],
             "cat": ["Roommate conflicts", "Calculus exams"]}  # fmt: skip
    histories, labels = [], {}
    for user, specifics in users.items():
        activities = [_activity(user, i, f"t3_{user}{i}") for i in range(3)]
        histories.append(History(user, "reddit", activities))
        labels |= {f"{user}{i}": _label(f"{user}{i}", s) for i, s in enumerate(specifics)}
    vectors = {  # near-duplicates point the same way; the query is closest to everything chemistry
        "Organic chemistry labs": [1, 0, 0, 0], "Organic chem lab work": [0.99, 0.1, 0, 0],
        "Dorm roommates": [0, 1, 0, 0], "Roommate conflicts": [0.05, 0.99, 0, 0],
        "Student loans": [0.5, 0, 0.8, 0], "Calculus exams": [0.4, 0, 0, 0.9],
    }  # fmt: skip
    embedder = TableEmbedder(vectors, default=[1, 0.2, 0.3, 0.3])  # every query
    queries, _ = labelled_queries(histories, labels, 256, approximate_tokens)
    pool = LabelPool.of(queries)
    candidates = candidate_negatives(queries, pool, embedder, count=5)
    for query, found in zip(queries, candidates, strict=True):
        chosen = {pool.specific[i] for i in found}
        own = set(users[query.user_id])
        assert not chosen & own
        if query.user_id == "ann":  # ben's chem label is ann's own interest; cat's roommates too
            assert chosen <= {"Student loans", "Calculus exams"}
        assert query.label.specific not in chosen


def test_a_with_activity_query_holds_the_activity_and_nothing_after_it():
    history = History("ann", "reddit", [_activity("ann", 0, "t3_a"), _activity("ann", 1, "t3_b"),
                                         _activity("ann", 2, "t3_a"), _activity("ann", 3, "t3_c")])  # fmt: skip
    labels = {"ann2": _label("ann2", "Topic")}
    queries, _ = labelled_queries([history], labels, 256, approximate_tokens, QueryScope.with_activity)
    (query,) = queries
    assert "thing number 2" in query.query and "number 0" in query.query and "number 3" not in query.query
    assert query.query_activity_ids == ["ann0", "ann1", "ann2"]
    without, _ = labelled_queries([history], labels, 256, approximate_tokens)
    assert "thing number 2" not in without[0].query and "number 3" in without[0].query
