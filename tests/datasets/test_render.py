"""Rendering: SUBJECT masking, consistent pseudonyms per thread, budget trims context first."""

from __future__ import annotations

from uue.datasets.records import Activity, ContextMessage, ThreadContext
from uue.datasets.render import SUBJECT, Segment, approximate_tokens, render_activity, render_segment


def _activity(
    i: int, thread: str, parents: list[tuple[str, str]], text: str = "my own words", op: str = "olga"
):
    return Activity(
        activity_id=f"t1_{i}", user_id="sam", platform="reddit", kind="comment", timestamp=i, text=text,
        context=ThreadContext("College", f"Title {thread}", "Body " * 50, op, [ContextMessage(*p) for p in parents]),
        thread_id=thread,
    )  # fmt: skip


def test_subject_and_pseudonyms_are_consistent_within_a_thread():
    segment = render_segment([
        _activity(1, "t3_a", [("kim", "hi u/sam"), ("sam", "hello")]),
        _activity(2, "t3_a", [("kim", "again")]),
        _activity(3, "t3_b", [("lee", "other thread")]),
    ]).text  # fmt: skip
    assert "sam" not in segment.replace("same", "")
    assert "olga" not in segment and "kim" not in segment and "lee" not in segment
    assert "P2: hi u/SUBJECT" in segment and f"{SUBJECT}: hello" in segment and "P2: again" in segment
    assert "Thread by P1: Title t3_b" in segment and "P2: other thread" in segment
    assert segment.startswith("[0] [reddit r/College, comment]")


def test_budget_trims_context_farthest_first_and_never_own_words():
    own = "I keep every one of these words " * 10
    activity = _activity(1, "t3_a", [("kim", "far parent " * 20), ("lee", "near parent")], text=own)
    full = render_activity(activity, budget=10_000)
    tight = render_activity(activity, budget=approximate_tokens(own) + 30)
    assert "far parent" in full and "Title" in full
    assert own.strip() in tight and "near parent" in tight
    assert "far parent" not in tight and "Body" not in tight and "Title" not in tight


def test_segment_drops_oldest_activities_only_when_own_words_overflow():
    long_words = "word " * 400  # ~500 tokens each
    activities = [_activity(i, f"t3_{i}", [], text=long_words) for i in range(6)]
    segment = render_segment(activities, budget=1200)
    assert segment.dropped == 4 and segment.kept == [4, 5]
    assert segment.text.count(long_words.strip()) == 2 and "[5]" in segment.text and "[3]" not in segment.text


def test_a_segment_gives_back_each_block_and_the_pivot_text_without_context():
    activities = [_activity(i, f"t3_{i % 2}", [("kim", "a parent")], text=f"own words {i}") for i in range(3)]
    segment = Segment("sam", activities, render_segment(activities).text)
    assert len(segment) == 3
    assert segment.block(1).startswith("[reddit r/College, comment]\nThread by P1")
    assert segment.block(2).endswith(f"{SUBJECT}: own words 2") and "[2]" not in segment.block(2)
    assert segment.pivot_text(1) == f"[reddit r/College, comment]\n{SUBJECT}: own words 1"  # no context
    assert segment.pivot_text(1, max_chars=10) == "[reddit r/ ..."
