"""The student's view of a history: one line per activity, newest first, mostly SUBJECT's own words.

`r/College · Finals week megathread · SUBJECT's words`: no thread body, no other people's messages
(they filled most of the 256 tokens the student reads of the teacher's rendering, see README), the
title capped, SUBJECT's words capped per activity so that several activities fit one window. When
the budget is reached, the last line that fits loses its title before it loses any of SUBJECT's
words. `uue train`, `uue bench` and `uue embed` all read histories through `render_student_view`
(via `uue.eval.user_vectors`), and `uue synth` writes its triplet queries with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from uue.datasets.records import Activity
from uue.datasets.render import Pseudonyms, TokenCounter, approximate_tokens

SEPARATOR = " · "
TITLE_WORDS = 12
OWN_WORDS = 60  # about 80 word pieces: three or more activities share a 256-token window
DEFAULT_STUDENT_BUDGET = 256  # all-MiniLM-L6-v2's max_seq_length


@dataclass(frozen=True)
class StudentLine:
    where: str
    title: str
    own: str  # SUBJECT's words, mentions masked

    def text(self, with_title: bool = True, own_words: int | None = None) -> str:
        own = self.own if own_words is None else " ".join(self.own.split()[:own_words])
        parts = [self.where, self.title if with_title else "", own]
        return SEPARATOR.join(part for part in parts if part)


@dataclass(frozen=True)
class StudentView:
    text: str
    kept: int  # how many of the newest activities appear (the rest did not fit)
    own_tokens: int  # tokens of SUBJECT's words in `text`
    tokens: int  # tokens of `text`

    @property
    def subject_share(self) -> float:
        return self.own_tokens / max(1, self.tokens)


def _words(text: str, limit: int) -> str:
    tokens = text.split()
    return " ".join(tokens[:limit]) + (" ..." if len(tokens) > limit else "")


def student_line(activity: Activity, pseudonyms: Pseudonyms) -> StudentLine:
    thread = activity.thread_key
    ctx = activity.context
    where = f"r/{ctx.community}" if ctx.community and activity.platform == "reddit" else ctx.community
    title = _words(pseudonyms.mask_mentions(thread, ctx.title), TITLE_WORDS) if ctx.title else ""
    own = _words(pseudonyms.mask_mentions(thread, activity.text), OWN_WORDS)
    return StudentLine(where or activity.platform, title, own)


def render_student_view(
    activities: Sequence[Activity],
    budget: int = DEFAULT_STUDENT_BUDGET,
    count_tokens: TokenCounter = approximate_tokens,
) -> StudentView:
    """The newest activities (given oldest first) as lines, newest first, within `budget` tokens."""
    if not activities:
        return StudentView("", 0, 0, 0)
    pseudonyms = Pseudonyms(activities[-1].user_id)
    lines: list[str] = []
    used = own_used = 0
    for activity in reversed(activities):
        line = student_line(activity, pseudonyms)
        fitted = _fit_line(line, budget - used - (1 if lines else 0), count_tokens)
        if fitted is None:
            break
        text, own_words = fitted
        lines.append(text)
        used += count_tokens(text) + (1 if len(lines) > 1 else 0)
        own_used += count_tokens(" ".join(line.own.split()[:own_words]))
        if own_words < len(line.own.split()):
            break  # the window is full
    text = "\n".join(lines)
    return StudentView(text, len(lines), own_used, count_tokens(text) if lines else 0)


def _fit_line(line: StudentLine, room: int, count_tokens: TokenCounter) -> tuple[str, int] | None:
    """The line within `room` tokens: whole; else without its title; else with fewer of SUBJECT's
    words (at least 8, or it is left out). Returns (text, SUBJECT's words kept) or None."""
    total = len(line.own.split())
    for with_title in (True, False):
        text = line.text(with_title)
        if count_tokens(text) <= room:
            return text, total
    low, high = 0, total  # the most words that fit, by bisection: a tokenizer call per step
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(line.text(False, middle)) <= room:
            low = middle
        else:
            high = middle - 1
    return (line.text(False, low), low) if low >= min(8, total) and low > 0 else None
