"""Teacher-free same-user pairs (in the spirit of SoMeR and LUAR): two disjoint windows of one user.

Round r of a user cuts the history into consecutive windows of `window` activities and pairs two of
them (chosen with a seed per user and round), each shown in the student's view. MNRL then treats
every other pair of the batch as a negative, so a batch must never hold two pairs of one user: each
round is its own dataset of one pair per user, and the trainer's multi-dataset sampler draws every
batch from a single round (sentence-transformers `MultiDatasetBatchSamplers`). `same_user_data` builds
the same-user objective of `uue train` from a histories folder.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import datasets

from uue.datasets.histories import iter_histories
from uue.datasets.records import Activity, History
from uue.datasets.render import TokenCounter
from uue.datasets.student_view import render_student_view
from uue.errors import ConfigError
from uue.eval.split import UserSplit, split_users
from uue.trainers.student_config import TrainConfig


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


def same_user_data(
    config: TrainConfig, model, limit: int | None
) -> tuple[dict[str, datasets.Dataset], datasets.Dataset, UserSplit]:
    """At most `limit` same-user pairs of the training users (one dataset per round) and held-out
    users' pairs as validation triplets (the negative: the next held-out user's positive window)."""
    histories = [h for h in iter_histories(config.histories) if len(h.activities) >= config.min_activities]
    split = split_users([h.user_id for h in histories], config.valid_fraction, config.split_seed)

    def count(text: str) -> int:
        return len(model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def pairs(users: frozenset[str], rounds: int, limit: int | None = None) -> list[list[SameUserPair]]:
        chosen = [h for h in histories if h.user_id in users][:limit]  # the first users, in storage order
        return same_user_pairs(chosen, rounds, config.pair_window, model.max_seq_length, count, config.seed)

    per_round = -(-limit // config.pair_rounds) if limit else None
    train_rounds = pairs(split.train, config.pair_rounds, per_round)
    valid_pairs = pairs(split.valid, 1, 500)[0]  # 500 held-out users are plenty for the evaluator
    if len(valid_pairs) < 2 or not any(train_rounds):
        raise ConfigError(
            f"same-user pairs: {sum(map(len, train_rounds))} train / {len(valid_pairs)} validation",
            hint="use more histories, a smaller --pair-window or --min-activities",
        )
    positives = [p.positive for p in valid_pairs]
    valid = datasets.Dataset.from_dict(
        {
            "anchor": [p.anchor for p in valid_pairs],
            "positive": positives,
            "negative": positives[1:] + positives[:1],
        }
    )
    return pair_datasets(train_rounds), valid, split
