"""Activities and history segments as text for the teacher and the student.

The user is always `SUBJECT`; other authors become `P1`, `P2`, ... consistently within a thread
(seed 002's masking), and their `u/name` mentions are masked the same way. A token budget trims
context first (farthest parents, then the thread body, then the title) and never the user's own
words; when even the user's words do not fit, whole activities are dropped, oldest first, and the
caller is told how many.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from uue.datasets.records import Activity

SUBJECT = "SUBJECT"
DELETED_AUTHORS = frozenset({"[deleted]", "[removed]", ""})
DEFAULT_TOKEN_BUDGET = 7680  # an 8k-token window minus room for instructions and the answer
TokenCounter = Callable[[str], int]


def approximate_tokens(text: str) -> int:
    """~4 characters a token for English BPE vocabularies; pass a real tokenizer's counter for exactness."""
    return len(text) // 4 + 1


@dataclass
class Pseudonyms:
    """Author → stable pseudonym, one table per thread."""

    subject: str
    by_thread: dict[str, dict[str, str]] = field(default_factory=dict)

    def name(self, thread_id: str, author: str) -> str:
        if author == self.subject:
            return SUBJECT
        if author in DELETED_AUTHORS:
            return "[deleted]"
        table = self.by_thread.setdefault(thread_id, {})
        return table.setdefault(author, f"P{len(table) + 1}")

    def mask_mentions(self, thread_id: str, text: str) -> str:
        """Replace `u/name` mentions of known authors (and the subject) in `text`."""
        names = {self.subject: SUBJECT, **self.by_thread.get(thread_id, {})}
        return _MENTION.sub(lambda m: f"u/{names[m.group(1)]}" if m.group(1) in names else m.group(0), text)


_MENTION = re.compile(r"/?u/([A-Za-z0-9_-]{3,20})")


@dataclass(frozen=True)
class RenderedActivity:
    """One activity as text parts: the context lines (trimmable) and the user's own words (never cut)."""

    header: str
    context: tuple[str, ...]  # farthest first: title, body, parents oldest → newest
    own_words: str

    def text(self, keep_context: int | None = None) -> str:
        """`keep_context` keeps only the nearest N context lines (None: all)."""
        context = self.context if keep_context is None else self.context[len(self.context) - keep_context :]
        return "\n".join([self.header, *context, f"{SUBJECT}: {self.own_words}"])


def render_parts(activity: Activity, pseudonyms: Pseudonyms) -> RenderedActivity:
    thread = activity.thread_key
    ctx = activity.context
    where = f"r/{ctx.community}" if ctx.community and activity.platform == "reddit" else ctx.community
    header = f"[{activity.platform}{' ' + where if where else ''}, {activity.kind}]"
    lines: list[str] = []
    if ctx.title:
        op = pseudonyms.name(thread, ctx.root_author) if ctx.root_author else "?"
        lines.append(f"Thread by {op}: {pseudonyms.mask_mentions(thread, ctx.title)}")
    if ctx.body and ctx.body not in DELETED_AUTHORS:
        lines.append(f"Thread text: {pseudonyms.mask_mentions(thread, ctx.body)}")
    for parent in ctx.parents:
        lines.append(
            f"{pseudonyms.name(thread, parent.author)}: {pseudonyms.mask_mentions(thread, parent.text)}"
        )
    return RenderedActivity(header, tuple(lines), pseudonyms.mask_mentions(thread, activity.text))


def render_activity(
    activity: Activity, budget: int = DEFAULT_TOKEN_BUDGET, count_tokens: TokenCounter = approximate_tokens
) -> str:
    """One activity within `budget` tokens: context trimmed farthest-first, own words kept whole."""
    parts = render_parts(activity, Pseudonyms(activity.user_id))
    return _fit([parts], budget, count_tokens)[0]


@dataclass(frozen=True)
class RenderedSegment:
    text: str
    kept: list[int]  # indices (into the given activities) that appear, in order
    dropped: int  # activities left out because the user's own words alone overflowed the budget


def render_segment(
    activities: Sequence[Activity],
    budget: int = DEFAULT_TOKEN_BUDGET,
    count_tokens: TokenCounter = approximate_tokens,
    numbered: bool = True,
) -> RenderedSegment:
    """A history segment as numbered blocks `[i] ...` (i = position in `activities`), within `budget`."""
    if not activities:
        return RenderedSegment("", [], 0)
    pseudonyms = Pseudonyms(activities[-1].user_id)
    parts = [render_parts(a, pseudonyms) for a in activities]
    labels = [f"[{i}] " if numbered else "" for i in range(len(parts))]
    own = [count_tokens(labels[i] + p.text(keep_context=0)) + 1 for i, p in enumerate(parts)]
    start = 0
    while start < len(parts) - 1 and sum(own[start:]) > budget:  # drop oldest activities last resort
        start += 1
    blocks = _fit(parts[start:], budget - sum(count_tokens(label) for label in labels[start:]), count_tokens)
    text = "\n\n".join(labels[start + i] + block for i, block in enumerate(blocks))
    return RenderedSegment(text, list(range(start, len(parts))), start)


# The pivot is repeated after the segment (its header and SUBJECT's own words, no thread context),
# cut to this length: every round and retry re-reads it. The whole block cut to 600 characters cost
# 0.4x of one pass over the segments in benchmarks/synth.py, and was often all thread context.
PIVOT_CHARS = 200


@dataclass(frozen=True)
class Segment:
    """A window of one user's history as the teacher sees it: `text` numbers `activities` [0..n-1]."""

    user_id: str
    activities: list[Activity]
    text: str

    def __len__(self) -> int:
        return len(self.activities)

    def block(self, index: int) -> str:
        """Activity `index` as rendered in `text`, without its number."""
        start = 0 if index == 0 else self.text.index(f"\n\n[{index}] ") + 2
        end = self.text.find(f"\n\n[{index + 1}] ", start)
        return self.text[start : len(self.text) if end < 0 else end][len(f"[{index}] ") :]

    def pivot_text(self, index: int, max_chars: int = PIVOT_CHARS) -> str:
        """The header line and SUBJECT's own words of activity `index`, cut to `max_chars`."""
        block = self.block(index)
        header, _, rest = block.partition("\n")
        own = rest[rest.rfind(f"{SUBJECT}: ") :] if f"{SUBJECT}: " in rest else rest
        text = f"{header}\n{own}" if own else header
        return text if len(text) <= max_chars else text[:max_chars].rstrip() + " ..."


def _fit(parts: list[RenderedActivity], budget: int, count_tokens: TokenCounter) -> list[str]:
    """Drop context lines, farthest first and from the largest context first, until all fit."""
    keep = [len(p.context) for p in parts]
    cost = [[count_tokens(line) + 1 for line in p.context] for p in parts]
    total = sum(count_tokens(p.text(keep_context=0)) + 1 for p in parts) + sum(map(sum, cost))
    while total > budget and any(keep):
        i = max(range(len(parts)), key=lambda j: sum(cost[j][len(cost[j]) - keep[j] :]) if keep[j] else -1)
        total -= cost[i][len(cost[i]) - keep[i]]
        keep[i] -= 1
    return [p.text(keep_context=k) for p, k in zip(parts, keep, strict=True)]
