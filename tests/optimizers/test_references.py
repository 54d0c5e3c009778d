"""Reference cases from a real slice of the shared Reddit dumps: the pivot's thread is its cluster."""

from __future__ import annotations

import inspect

from uue.optimizers.references import (
    Split,
    build_case,
    other_titles,
    read_cases,
    split_cases,
    split_of,
    write_cases,
)
from uue.programs.judge import JUDGE_INPUTS, Judge, judge_examples
from uue.programs.negatives import RERANK_INPUTS, RerankNegatives, rerank_examples
from uue.programs.pivot import CLUSTER_INPUTS, PivotCluster, cluster_examples


def thread(activity):
    return activity.thread_id or activity.activity_id


def test_pivot_reference_is_its_thread_interleaved_with_others(real_cases):
    assert len(real_cases) >= 50
    for case in real_cases:
        activities = case.segment.activities
        assert case.pivot == len(activities) - 1  # the most recent activity, as in extract_clusters
        mine = thread(activities[case.pivot])
        assert case.thread == tuple(i for i, a in enumerate(activities) if thread(a) == mine)
        assert len(case.thread) >= 2
        assert len({thread(a) for a in activities}) >= 2  # interleaves at least two threads
        assert set(case.thread) <= set(case.community)
        assert all(
            activities[i].context.community == activities[case.pivot].context.community
            for i in case.community
        )
        assert case.segment.text.startswith("[0] ") and f"[{case.pivot}] " in case.segment.text
    # Some segments really interleave: another thread sits between two activities of the pivot's.
    assert any(set(range(c.thread[0], c.pivot)) - set(c.thread) for c in real_cases)
    assert any(len(set(c.community)) > len(c.thread) for c in real_cases)  # loose reference differs


def test_users_without_two_threads_have_no_case(real_cases):
    from tests.programs.conftest import make_history

    single = make_history("solo", [("a", "one"), ("a", "two")])
    for activity in single.activities:
        activity.thread_id = "t3_same"
    assert build_case(single) is None
    assert build_case(make_history("lonely", [("a", "one"), ("b", "two")])) is None  # no thread mate


def test_split_is_by_user_deterministic_and_disjoint(real_cases):
    splits = split_cases(real_cases, seed=0)
    users = {split: {c.user_id for c in cases} for split, cases in splits.items()}
    assert all(users[split] for split in Split)
    assert not (users[Split.train] & users[Split.val]) and not (users[Split.val] & users[Split.test])
    assert not (users[Split.train] & users[Split.test])
    reordered = split_cases(list(reversed(real_cases)), seed=0)  # a user's split ignores the others
    assert all({c.user_id for c in reordered[split]} == users[split] for split in Split)
    assert split_of("some_user", seed=0) == split_of("some_user", seed=0)
    assert any(split_of(c.user_id, seed=1) != split_of(c.user_id, seed=0) for c in real_cases)


def test_cases_round_trip_through_json_lines(real_cases, tmp_path):
    path = tmp_path / "cases.jsonl"
    assert write_cases(real_cases[:10], path) == 10
    loaded = read_cases(path)
    assert [c.to_dict() for c in loaded] == [c.to_dict() for c in real_cases[:10]]


def test_examples_match_the_programs_inputs(real_cases):
    def params(module):
        return tuple(inspect.signature(module.forward).parameters)[1:]  # without self

    assert params(PivotCluster) == CLUSTER_INPUTS
    assert params(RerankNegatives) == RERANK_INPUTS
    assert params(Judge) == JUDGE_INPUTS
    cluster = cluster_examples(real_cases)
    assert set(cluster[0].inputs().keys()) == set(CLUSTER_INPUTS)
    assert cluster[0].segment is real_cases[0].segment and cluster[0].clustered == []
    rerank = rerank_examples(real_cases, candidates=4)
    assert rerank and all(e.positive not in e.candidates and len(e.candidates) == 4 for e in rerank)
    assert rerank == rerank_examples(real_cases, candidates=4)  # deterministic
    judge = judge_examples(real_cases)
    assert {e.target for e in judge} == {0.0, 1.0}


def test_other_titles_are_other_users_titles_unlike_the_cases_own(real_cases):
    case = real_cases[0]
    titles = other_titles(real_cases, case)
    assert titles and titles == sorted(set(titles))
    assert case.title.lower() not in {t.lower() for t in titles}
    assert set(titles) <= {c.title for c in real_cases if c.user_id != case.user_id}
