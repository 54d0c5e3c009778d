"""Same-user pairs: both sides from one user, disjoint windows, one pair per user in a round."""

from __future__ import annotations

from uue.datasets.records import Activity, History, ThreadContext
from uue.datasets.render import approximate_tokens
from uue.trainers.same_user import pair_datasets, same_user_pairs


def _history(user: str, n: int) -> History:
    activities = [
        Activity(f"{user}_{i}", user, "reddit", "comment", i, f"{user} wrote comment {i} about topic {i % 3}",
                 ThreadContext("College", f"thread {i}"), f"t3_{user}{i}")
        for i in range(n)
    ]  # fmt: skip
    return History(user, "reddit", activities)


def test_pairs_never_mix_users_and_windows_are_disjoint():
    histories = [_history(u, n) for u, n in (("ann", 40), ("ben", 17), ("cat", 9), ("dan", 3))]
    rounds = same_user_pairs(histories, rounds=3, window=4, budget=256, count_tokens=approximate_tokens)
    assert len(rounds) == 3
    for pairs in rounds:
        users = [p.user_id for p in pairs]
        assert len(users) == len(set(users)) == 3  # dan has one window: no pair
        for pair in pairs:
            assert set(pair.anchor_ids).isdisjoint(pair.positive_ids)
            assert {i.split("_")[0] for i in (*pair.anchor_ids, *pair.positive_ids)} == {pair.user_id}
            assert f"{pair.user_id} wrote" in pair.anchor and f"{pair.user_id} wrote" in pair.positive
    assert [p.anchor for p in rounds[0]] != [p.anchor for p in rounds[1]]  # rounds draw other windows
    data = pair_datasets(rounds)
    assert list(data) == ["round0", "round1", "round2"] and data["round0"].column_names == [
        "anchor",
        "positive",
    ]
