"""Users scored against free-text statements (seed 003's preference inference) and its two protocols.

`statement_scores` is the one scorer: `uue infer` ranks a user's statements with it, and the bench
tasks below measure it. A dense model compares the pooled user vector (the two-tower model: its user
tower) with each statement's document vector (the two-tower model: its item tower); BM25 scores the
user's newest window against each statement.

Protocols on held-out users, whose statements are the teacher's labels of their activities
(`labels.jsonl` of `uue synth --mode activity`, one per labelled activity, "nothing" left out):
* `retrieval`: the query is the user's history without any labelled thread; candidates are every
  distinct held-out label (`specific`, or `broad`); the user's own labels are relevant. Recall@10 =
  share of the user's labels in the top 10; F1@10 with precision over the 10.
* `zero-shot`: only statements no training user has (by normalised text): a statement the model
  could not have been trained on. Per user, AUC of its own unseen statements against every other
  unseen statement, and F1@R, the F1 of the top R where R is the number of its own (so P = R = F1).
Every figure is per user, so the bench bootstraps over users and pairs models on the same users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from uue.datasets.records import Activity, History
from uue.eval.embedders import Embedder
from uue.eval.split import is_held_out
from uue.eval.user_vectors import Pooling, score_histories
from uue.programs.checks import normalized
from uue.programs.labels import ActivityLabel

TOP_K = 10


def statement_scores(
    embedder: Embedder,
    histories: Sequence[Sequence[Activity]],
    statements: Sequence[str],
    pooling: Pooling = Pooling.mean,
    max_windows: int = 16,
) -> np.ndarray:
    """[n_users, n_statements]: higher = the statement fits the user better (one pooling; lexical
    embedders read the newest window)."""
    by_pooling = score_histories(embedder, histories, list(statements), [pooling], max_windows)
    return next(iter(by_pooling.values()))


@dataclass(frozen=True)
class StatementUser:
    """A held-out user: the history the model reads and the statements the teacher wrote for it."""

    user_id: str
    query: list[Activity]  # the history without any labelled thread
    specific: frozenset[str]  # normalised texts
    broad: frozenset[str]


@dataclass(frozen=True)
class StatementSet:
    users: list[StatementUser]
    texts: dict[str, str]  # normalised -> the first label written that way (sorted by activity id)
    seen: frozenset[str]  # normalised specific labels of training users


def statement_set(
    histories: Sequence[History],
    labels: Sequence[ActivityLabel],
    owners: Mapping[str, str],
    valid_fraction: float,
    split_seed: int = 0,
) -> StatementSet:
    """The held-out `histories` (at least one labelled activity and something left to read besides its
    threads) with their statements, and the training users' statements (`owners` gives each label's user)."""
    by_activity = {label.activity_id: label for label in labels if not label.nothing}
    texts: dict[str, str] = {}
    for label in sorted(by_activity.values(), key=lambda label: label.activity_id):
        for text in (label.specific, label.broad):
            texts.setdefault(normalized(text), text)
    seen = frozenset(
        normalized(label.specific)
        for activity_id, label in by_activity.items()
        if activity_id in owners and not is_held_out(owners[activity_id], valid_fraction, split_seed)
    )
    users = []
    for history in histories:
        own = [by_activity[a.activity_id] for a in history.activities if a.activity_id in by_activity]
        if not own:
            continue
        labelled = {a.thread_key for a in history.activities if a.activity_id in by_activity}
        query = [a for a in history.activities if a.thread_key not in labelled]
        if query:
            specific = frozenset(normalized(label.specific) for label in own)
            broad = frozenset(normalized(label.broad) for label in own)
            users.append(StatementUser(history.user_id, query, specific, broad))
    return StatementSet(users, texts, seen)


def retrieval_values(
    scores: np.ndarray, relevant: Sequence[set[int]], k: int = TOP_K
) -> dict[str, np.ndarray]:
    """scores [n, c]; relevant[i] = candidate columns of user i -> {"recall@10", "f1@10"}: values [n].
    Ties are broken against the relevant candidates (a constant scorer finds nothing)."""
    out = {f"recall@{k}": [], f"f1@{k}": []}
    for row, wanted in zip(scores, relevant, strict=True):
        is_relevant = np.zeros(len(row), dtype=bool)
        is_relevant[list(wanted)] = True
        top = np.lexsort((is_relevant, -row))[:k]  # by score, then non-relevant first
        hits = int(is_relevant[top].sum())
        recall, precision = hits / len(wanted), hits / k
        out[f"recall@{k}"].append(recall)
        out[f"f1@{k}"].append(2 * precision * recall / (precision + recall) if hits else 0.0)
    return {name: np.array(values) for name, values in out.items()}


def zero_shot_values(scores: np.ndarray, relevant: Sequence[set[int]]) -> dict[str, np.ndarray]:
    """scores [n, c] over unseen statements; relevant[i] non-empty -> {"auc", "f1@R"}: values [n].
    AUC counts a tie as half; F1@R is the share of the user's statements in its top R (R = how many)."""
    auc, f1 = [], []
    for row, wanted in zip(scores, relevant, strict=True):
        positive = np.zeros(len(row), dtype=bool)
        positive[list(wanted)] = True
        pos, neg = row[positive][:, None], row[~positive][None, :]  # [p, 1], [1, q]
        auc.append(float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size)))
        top = np.lexsort((positive, -row))[: len(wanted)]
        f1.append(float(positive[top].mean()))
    return {"auc": np.array(auc), "f1@R": np.array(f1)}


def statement_task_values(
    embedder: Embedder, found: StatementSet, pooling: Pooling, max_windows: int
) -> dict[str, dict[str, np.ndarray]]:
    """{variant: {metric: per-user values}} for `retrieval/specific`, `retrieval/broad`, `zero-shot`;
    the user histories are encoded once for all three."""
    out: dict[str, dict[str, np.ndarray]] = {}
    users = found.users
    if not users:
        return out
    keys = {
        "specific": sorted(set().union(*(u.specific for u in users))),
        "broad": sorted(set().union(*(u.broad for u in users))),
    }
    unseen = [key for key in keys["specific"] if key not in found.seen]
    columns = list(dict.fromkeys(keys["specific"] + keys["broad"]))
    scores = statement_scores(embedder, [u.query for u in users], [found.texts[c] for c in columns], pooling,
                              max_windows)  # fmt: skip
    at = {key: i for i, key in enumerate(columns)}
    for variant in ("specific", "broad"):
        cols = [at[key] for key in keys[variant]]
        local = {key: i for i, key in enumerate(keys[variant])}
        relevant = [{local[key] for key in getattr(u, variant)} for u in users]
        out[f"retrieval/{variant}"] = retrieval_values(scores[:, cols], relevant)
    local = {key: i for i, key in enumerate(unseen)}
    # a user needs an unseen statement of its own and one of someone else's for an AUC
    rows = [i for i, u in enumerate(users) if 0 < len(u.specific & set(local)) < len(unseen)]
    if rows:
        relevant = [{local[key] for key in users[i].specific if key in local} for i in rows]
        out["zero-shot"] = zero_shot_values(scores[np.ix_(rows, [at[key] for key in unseen])], relevant)
    return out
