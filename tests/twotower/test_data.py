"""Two-tower examples: chunks are the newest activities without the labelled thread; batches never
hold one user twice."""

from __future__ import annotations

from uue.datasets.records import Activity, ThreadContext
from uue.twotower.data import Example, distinct_user_batches, history_chunks


def _activity(i: int) -> Activity:
    return Activity(f"a{i}", "ann", "reddit", "comment", i, f"words of activity {i}",
                    ThreadContext("College", f"title {i}"), f"t3_{i}")  # fmt: skip


def test_chunks_are_the_newest_activities_grouped_newest_first():
    chunks = history_chunks([_activity(i) for i in range(7)], per_chunk=2, num_chunks=2, budget=64)
    assert len(chunks) == 2
    assert "activity 6" in chunks[0] and "activity 5" in chunks[0]
    assert "activity 4" in chunks[1] and "activity 3" in chunks[1]
    assert not any("activity 2" in c for c in chunks)


def test_batches_never_hold_a_user_twice():
    examples = [Example(f"u{i % 3}", ["c"], f"s{i}", "b") for i in range(9)]  # three users, three each
    batches = distinct_user_batches(examples, batch_size=3, seed=0)
    assert all(len({e.user_id for e in batch}) == len(batch) for batch in batches)
    assert sum(map(len, batches)) == 9
