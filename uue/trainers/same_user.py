"""Teacher-free same-user pairs (in the spirit of SoMeR and LUAR): two disjoint windows of one user.

Round r of a user cuts the history into consecutive windows of `window` activities and pairs two of
them (chosen with a seed per user and round), each shown in the student's view. MNRL then treats
every other pair of the batch as a negative, so a batch must never hold two pairs of one user: each
round is its own dataset of one pair per user, and the trainer's multi-dataset sampler draws every
batch from a single round (sentence-transformers `MultiDatasetBatchSamplers`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import datasets

from uue.datasets.records import Activity, History
from uue.datasets.render import TokenCounter
from uue.datasets.student_view import render_student_view


@dataclass(frozen=True)
class SameUserPair:
    user_id: str
    anchor: str
    positive: str
    anchor_ids: tuple[str, ...]
    positive_ids: tuple[str, ...]


def windows(activities: Sequence[Activity], size: int) -> list[list[Activity]]:
    """Consecutive, disjoint windows of `size` activities, oldest first (a short last one dropped)."""
    return [list(activities[i : i + size]) for i in range(0, len(activities) - size + 1, size)]


def same_user_pairs(
    histories: Sequence[History],
    rounds: int,
    window: int,
    budget: int,
    count_tokens: TokenCounter,
    seed: int = 0,
) -> list[list[SameUserPair]]:
    """`rounds` lists of pairs, each with at most one pair per user; users with fewer than two
    windows give none. Within a round a user's two windows are distinct; across rounds they may repeat."""
    out = []
    for round_index in range(rounds):
        pairs = []
        for history in histories:
            found = windows(history.activities, window)
            if len(found) < 2:
                continue
            rng = random.Random(f"{seed}:{round_index}:{history.user_id}")
            first, second = rng.sample(range(len(found)), 2)
            anchor = render_student_view(found[first], budget, count_tokens)
            positive = render_student_view(found[second], budget, count_tokens)
            if not anchor.text or not positive.text:
                continue
            pairs.append(
                SameUserPair(
                    history.user_id,
                    anchor.text,
                    positive.text,
                    tuple(a.activity_id for a in found[first]),
                    tuple(a.activity_id for a in found[second]),
                )
            )
        out.append(pairs)
    return out


def pair_datasets(rounds: list[list[SameUserPair]]) -> dict[str, datasets.Dataset]:
    """One (anchor, positive) dataset per round: the unit the trainer's sampler keeps batches within."""
    return {
        f"round{i}": datasets.Dataset.from_dict(
            {"anchor": [p.anchor for p in pairs], "positive": [p.positive for p in pairs]}
        )
        for i, pairs in enumerate(rounds)
        if pairs
    }
