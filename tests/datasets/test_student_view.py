"""The student's view: newest first, one line per activity, SUBJECT's words kept when it must cut."""

from __future__ import annotations

from uue.datasets.records import Activity, ContextMessage, ThreadContext
from uue.datasets.render import approximate_tokens
from uue.datasets.student_view import render_student_view


def _activity(i: int, text: str, title: str = "A long thread title about many things", parent: str = "hi"):
    return Activity(
        activity_id=f"t1_{i}", user_id="sam", platform="reddit", kind="comment", timestamp=i, text=text,
        context=ThreadContext("College", title, "Body text " * 40, "olga", [ContextMessage("kim", parent)]),
        thread_id=f"t3_{i}",
    )  # fmt: skip


def test_lines_are_newest_first_without_other_peoples_messages():
    view = render_student_view(
        [_activity(1, "older words here"), _activity(2, "newer words here")], budget=500
    )
    assert view.text.splitlines() == [
        "r/College · A long thread title about many things · newer words here",
        "r/College · A long thread title about many things · older words here",
    ]
    assert "Body" not in view.text and "kim" not in view.text and "hi" not in view.text.split(" · ")[-1]
    assert view.kept == 2 and 0 < view.subject_share < 1


def test_when_it_must_cut_it_drops_the_title_before_subjects_words():
    words = "every one of these words is mine and should stay " * 2
    newest = _activity(2, words.strip(), title="Title words " * 6)
    room = approximate_tokens(f"r/College · {words.strip()}")
    view = render_student_view([_activity(1, "an older comment that will not fit"), newest], budget=room)
    assert view.text == f"r/College · {words.strip()}" and view.kept == 1


def test_a_history_too_long_for_the_window_keeps_the_newest_and_reports_the_share():
    activities = [_activity(i, f"comment number {i} " * 30) for i in range(20)]
    view = render_student_view(activities, budget=256)
    assert approximate_tokens(view.text) <= 256 + view.kept  # newline separators round up per line
    assert view.text.splitlines()[0].endswith("...") and "comment number 19" in view.text.splitlines()[0]
    assert 1 <= view.kept < 20 and view.subject_share > 0.7


def test_mentions_of_the_subject_are_masked():
    view = render_student_view([_activity(1, "as u/sam said before")], budget=100)
    assert "u/sam" not in view.text and "u/SUBJECT" in view.text
