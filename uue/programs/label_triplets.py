"""`uue synth --mode activity`, the triplet part: histories + teacher labels -> triplets.

For each labelled activity of user u: the query is u's history without that activity's thread, in
the student's view (or, `--query-scope with-activity`, the history up to and including it); the positive is the specific label (the broad one is the hierarchical second
positive, `positive_broad`); the hard negative is chosen the Gecko way: the base embedder retrieves
candidates for the query from the global label pool, never u's own labels or near-duplicates of them
(nor of the positive), and either the best-ranked one is taken (`--negatives mined`) or the teacher
reranks them (`--negatives rerank`, seed 000 phase 2).

Why not `sentence_transformers.util.mine_hard_negatives`: it excludes only the row's own positive,
and here every label of the same user (and anything close to one) is a likely false negative.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

import numpy as np

from uue.datasets.records import Activity, History
from uue.datasets.render import TokenCounter
from uue.datasets.student_view import render_student_view
from uue.eval.embedders import DenseEmbedder
from uue.programs.checks import normalized
from uue.programs.label_job import threads_of
from uue.programs.labels import ActivityLabel
from uue.provenance import sha256_text

NEAR_DUPLICATE = 0.85  # cosine (MiniLM) at or above which a pool label counts as the same interest
# Positive-aware mining (NV-Retriever's TopK-PercPos; `relative_margin` of sentence-transformers'
# miner): a candidate the base model scores above this share of the positive's score is too likely
# a true interest of the user, i.e. a false negative.
POSITIVE_MARGIN = 0.95


@dataclass(frozen=True)
class LabelledQuery:
    """A triplet before its negative: the query, the positive labels and what they came from."""

    triplet_id: str
    user_id: str
    activity: Activity
    query: str
    query_activity_ids: list[str]
    thread_activity_ids: list[str]
    label: ActivityLabel
    subject_share: float  # of the query's tokens, SUBJECT's own words


class QueryScope(str, Enum):
    """What of the user's history a label's query holds."""

    # The history without the labelled activity's thread: the label is *predicted* from the rest
    # (the held-out interest task itself; noisy when interests do not recur).
    without_thread = "without-thread"
    # The newest activities, the labelled one among them: the label *describes* the history (the
    # student learns to put a history near the labels of what is in it; the thread is in the query).
    with_activity = "with-activity"


def labelled_queries(
    histories: list[History],
    labels: dict[str, ActivityLabel],
    budget: int,
    count_tokens: TokenCounter,
    scope: QueryScope = QueryScope.without_thread,
) -> tuple[list[LabelledQuery], int]:
    """One query per labelled (not "nothing") activity, and how many were left out for an empty query."""
    out, empty = [], 0
    for history in histories:
        threads = threads_of(history)
        for activity in history.activities:
            label = labels.get(activity.activity_id)
            if label is None or label.nothing:
                continue
            thread = threads[activity.thread_key]
            in_thread = {a.activity_id for a in thread}
            if scope is QueryScope.without_thread:
                rest = [a for a in history.activities if a.activity_id not in in_thread]
            else:  # up to the labelled activity: what the user had written by then, it included
                rest = history.activities[: history.activities.index(activity) + 1]
            view = render_student_view(rest, budget, count_tokens)
            if not view.text.strip():
                empty += 1
                continue
            out.append(
                LabelledQuery(
                    triplet_id=sha256_text(f"activity:{history.user_id}:{activity.activity_id}")[:20],
                    user_id=history.user_id,
                    activity=activity,
                    query=view.text,
                    query_activity_ids=[a.activity_id for a in rest[len(rest) - view.kept :]],
                    thread_activity_ids=sorted(in_thread),
                    label=label,
                    subject_share=view.subject_share,
                )
            )
    return out, empty


@dataclass(frozen=True)
class LabelPool:
    """Distinct specific labels (by normalised text), with their broad label and every owner."""

    specific: list[str]
    broad: list[str]
    owners: list[frozenset[str]]

    @classmethod
    def of(cls, queries: list[LabelledQuery]) -> LabelPool:
        first: dict[str, tuple[str, str]] = {}
        owners: dict[str, set[str]] = {}
        for q in sorted(queries, key=lambda q: q.triplet_id):  # the same pool whatever the input order
            key = normalized(q.label.specific)
            first.setdefault(key, (q.label.specific, q.label.broad))
            owners.setdefault(key, set()).add(q.user_id)
        keys = sorted(first)
        return cls(
            [first[k][0] for k in keys], [first[k][1] for k in keys], [frozenset(owners[k]) for k in keys]
        )

    def index(self, specific: str) -> int:
        return self._at[normalized(specific)]

    @cached_property  # writes the instance __dict__ directly, so a frozen dataclass may hold it
    def _at(self) -> dict[str, int]:
        return {normalized(s): i for i, s in enumerate(self.specific)}


def candidate_negatives(
    queries: list[LabelledQuery], pool: LabelPool, embedder: DenseEmbedder, count: int
) -> list[list[int]]:
    """Per query, up to `count` pool indices, most similar to the query first, with u's own labels,
    near-duplicates of any of them or of the positive, and candidates scored above
    `POSITIVE_MARGIN` x the positive's score left out."""
    labels = embedder.encode_documents(pool.specific)  # [L, d]
    query_vectors = embedder.encode_queries([q.query for q in queries])  # [n, d]
    label_sim = labels @ labels.T  # [L, L]
    own_by_user: dict[str, list[int]] = {}
    for i, owners in enumerate(pool.owners):
        for user in owners:
            own_by_user.setdefault(user, []).append(i)
    blocked_by_user = {
        user: label_sim[:, own].max(axis=1) >= NEAR_DUPLICATE  # [L]
        for user, own in own_by_user.items()
    }
    out = []
    for row, q in enumerate(queries):
        scores = labels @ query_vectors[row]  # [L]
        positive = pool.index(q.label.specific)
        blocked = (
            blocked_by_user[q.user_id]
            | (label_sim[positive] >= NEAR_DUPLICATE)
            | (scores > POSITIVE_MARGIN * scores[positive])
        )  # [L]
        scores = np.where(blocked, -np.inf, scores)
        order = np.argsort(-scores, kind="stable")[:count]
        out.append([int(i) for i in order if np.isfinite(scores[i])])
    return out


Reranker = Callable[[LabelledQuery, list[str], random.Random], int | None]


def choose_negative(
    query: LabelledQuery, candidates: list[int], pool: LabelPool, rerank: Reranker | None, seed: int
) -> tuple[int, str] | None:
    """(pool index, source): the teacher's pick among the candidates, else the most similar one."""
    if not candidates:
        return None
    if rerank is not None:
        rng = random.Random(f"{seed}:{query.triplet_id}")
        picked = rerank(query, [pool.specific[i] for i in candidates], rng)
        if picked is not None:
            return candidates[picked], "reranked"
    return candidates[0], "mined"
