"""Phase 1 for one user without an LM: the segment is the newest activities numbered from 0, and the
extraction loop's bookkeeping (pivot order, merges, misses, failures) against a scripted round."""

from __future__ import annotations

from types import SimpleNamespace

from uue.programs.extract import Cluster, extract_clusters, recent_segment


def _round(related=(), specific="", broad="", same_as=None, failure=None, cluster=True):
    return SimpleNamespace(has_cluster=cluster, related=list(related), specific=specific, broad=broad,
                           same_as=same_as, failure=failure)  # fmt: skip


NONE = _round(cluster=False)


class ScriptedRounds:
    """Stands in for `PivotCluster`: answers from a script and records what each round was asked."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.asked: list[dict] = []

    def __call__(self, *, segment, clustered, pivot, taken):
        self.asked.append({"clustered": list(clustered), "pivot": pivot, "taken": list(taken)})
        return self.answers.pop(0)


def test_the_segment_is_the_newest_activities_numbered_from_zero(histories):
    alice = histories[0]
    segment = recent_segment(alice, size=3, budget=2000)
    assert segment.user_id == "alice" and segment.activities == alice.activities[-3:]
    assert segment.text.startswith("[0] ") and "\n\n[2] " in segment.text and "[3] " not in segment.text


def test_an_overflowing_budget_keeps_the_newest_activities_renumbered(histories):
    alice = histories[0]
    segment = recent_segment(alice, size=16, budget=60)
    assert 1 <= len(segment) < len(alice.activities)
    assert segment.activities == alice.activities[-len(segment) :]
    assert segment.text.startswith("[0] ") and f"[{len(segment) - 1}] " in segment.text
    assert f"[{len(segment)}] " not in segment.text  # the numbers the teacher sees are 0..n-1
    assert alice.activities[-1].text in segment.text


def test_rounds_pivot_on_the_newest_unclustered_activity_and_pass_the_labels_taken(histories):
    segment = recent_segment(histories[0], size=16, budget=2000)  # 5 activities
    rounds = ScriptedRounds(
        _round([0, 2, 4], "Secured credit cards", "Personal finance"),
        _round([3], "Python list comprehensions", "Programming"),
    )
    found = extract_clusters(segment, rounds, max_positives=2)
    assert found.clusters == [
        Cluster([0, 2, 4], "Secured credit cards", "Personal finance"),
        Cluster([3], "Python list comprehensions", "Programming"),
    ]
    assert rounds.asked == [
        {"clustered": [], "pivot": 4, "taken": []},
        {"clustered": [0, 2, 4], "pivot": 3, "taken": ["Secured credit cards"]},
    ]


def test_a_round_without_a_cluster_removes_its_pivot_and_counts_why(histories):
    segment = recent_segment(histories[0], size=16, budget=2000)
    rounds = ScriptedRounds(
        NONE, _round(cluster=False, failure="unparsable_output"), _round([2, 0], "A", "B")
    )
    found = extract_clusters(segment, rounds, max_positives=1, max_misses=3)
    assert [asked["pivot"] for asked in rounds.asked] == [4, 3, 2]
    assert rounds.asked[2]["clustered"] == [4, 3]
    assert (found.empty_rounds, found.failures, len(found.clusters)) == (1, ["unparsable_output"], 1)


def test_extraction_stops_after_max_misses_in_a_row_and_a_cluster_resets_the_count(histories):
    segment = recent_segment(histories[0], size=16, budget=2000)
    rounds = ScriptedRounds(NONE, _round([3], "A", "B"), NONE, NONE, _round([0], "never asked", "X"))
    found = extract_clusters(segment, rounds, max_positives=5, max_misses=2)
    assert len(rounds.asked) == 4 and [c.specific for c in found.clusters] == ["A"]
    assert found.empty_rounds == 3


def test_a_repeated_label_joins_the_earlier_cluster_and_counts_as_a_miss(histories):
    segment = recent_segment(histories[0], size=16, budget=2000)
    rounds = ScriptedRounds(
        _round([4, 2], "Cards", "Finance"), _round([3, 0], "cards", "Finance", same_as=0), NONE
    )
    found = extract_clusters(segment, rounds, max_positives=3, max_misses=2)
    assert found.clusters == [Cluster([0, 2, 3, 4], "Cards", "Finance")]
    assert (found.merged_rounds, found.empty_rounds) == (1, 1)
    assert rounds.asked[2] == {"clustered": [4, 2, 3, 0], "pivot": 1, "taken": ["Cards"]}


def test_extraction_ends_when_every_activity_is_clustered(histories):
    segment = recent_segment(histories[0], size=2, budget=2000)
    rounds = ScriptedRounds(_round([0, 1], "Everything", "All"))
    found = extract_clusters(segment, rounds, max_positives=5)
    assert len(rounds.asked) == 1 and found.clusters == [Cluster([0, 1], "Everything", "All")]
