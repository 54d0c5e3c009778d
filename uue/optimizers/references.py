"""Reference sets for compiling the teacher, built from real histories without human labels.

Construction (one case per user, deterministic):

* Walk the user's history (oldest first) and find the latest activity `p` such that the window of
  at most `size` activities ending at `p` holds another activity of `p`'s thread *and* at least one
  activity of a different thread. `p` becomes the pivot; it is the last index of the segment, as in
  `extract_clusters` (the pivot is the most recent unlabelled activity, nothing clustered yet).
* The segment is that window rendered with `render_segment` (oldest activities dropped when the
  user's own words overflow the token budget; a window that then loses the pivot's thread mates or
  all other threads is skipped).
* The strict reference cluster is the indices of the pivot's thread; the loose one is the indices of
  its subreddit (`context.community`). The thread title (written by a human, usually the original
  poster) is the reference *label* of the cluster, used by the rerank and judge sets.
* Users are split into train/val/test by a hash of `seed:user_id`, so a user never crosses splits
  and adding users does not move the others.

Limits: a thread is a proxy for a topic. A user can discuss one interest in several threads (the
strict reference then calls a right answer a false positive; the loose subreddit reference is the
check on that), and a long thread can drift between topics. Subreddits are broad (r/College holds
many topics). Titles are the original poster's words, not the user's interest: a title is a
reasonable positive label for the rerank and judge sets, not a model summary. Only first rounds are
covered (`clustered` is empty); later rounds of `extract_clusters` are not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from uue.datasets.records import Activity, History
from uue.datasets.render import Segment, render_segment
from uue.errors import InputError


class Split(str, Enum):
    train = "train"
    val = "val"
    test = "test"


@dataclass(frozen=True)
class ReferenceCase:
    """One segment of one user with the pivot's reference clusters and label."""

    segment: Segment
    pivot: int
    thread: tuple[int, ...]  # strict reference: indices of the pivot's thread, the pivot included
    community: tuple[int, ...]  # loose reference: indices of the pivot's subreddit
    title: str  # the pivot thread's title: the reference label

    @property
    def user_id(self) -> str:
        return self.segment.user_id

    def members_text(self, indices: Iterable[int], budget: int = 512) -> str:
        """The given activities rendered without numbers (a cluster's text for judge and retrieval)."""
        chosen = [self.segment.activities[i] for i in sorted(set(indices)) if 0 <= i < len(self.segment)]
        return render_segment(chosen, budget, numbered=False).text if chosen else ""

    def context_text(self, budget: int = 512) -> str:
        """The segment without the pivot's thread: the context a triplet pairs with its positive."""
        rest = [i for i in range(len(self.segment)) if i not in set(self.thread)]
        return self.members_text(rest, budget)

    def to_dict(self) -> dict:
        return {
            "user_id": self.user_id,
            "activities": [a.to_dict() for a in self.segment.activities],
            "text": self.segment.text,
            "pivot": self.pivot,
            "thread": list(self.thread),
            "community": list(self.community),
            "title": self.title,
        }

    @classmethod
    def from_dict(cls, row: dict) -> ReferenceCase:
        activities = [Activity.from_dict(a) for a in row["activities"]]
        return cls(
            Segment(row["user_id"], activities, row["text"]),
            int(row["pivot"]),
            tuple(row["thread"]),
            tuple(row["community"]),
            row.get("title", ""),
        )


def pivot_window(activities: Sequence[Activity], size: int) -> tuple[int, int] | None:
    """(start, pivot) of the latest window that interleaves the pivot's thread with another thread."""
    for pivot in range(len(activities) - 1, 0, -1):
        start = max(0, pivot - size + 1)
        threads = [a.thread_key for a in activities[start : pivot + 1]]
        mine = threads[-1]
        if threads.count(mine) >= 2 and any(t != mine for t in threads):
            return start, pivot
    return None


def build_case(history: History, size: int = 12, budget: int = 1536) -> ReferenceCase | None:
    """The reference case of one user, or None when no window interleaves two threads."""
    found = pivot_window(history.activities, size)
    if found is None:
        return None
    start, pivot = found
    activities = history.activities[start : pivot + 1]
    rendered = render_segment(activities, budget)
    if rendered.dropped:
        activities = activities[rendered.dropped :]
        rendered = render_segment(activities, budget)
    threads = [a.thread_key for a in activities]
    mine = threads[-1]
    if threads.count(mine) < 2 or all(t == mine for t in threads):
        return None
    community = activities[-1].context.community
    return ReferenceCase(
        Segment(history.user_id, list(activities), rendered.text),
        pivot=len(activities) - 1,
        thread=tuple(i for i, t in enumerate(threads) if t == mine),
        community=tuple(i for i, a in enumerate(activities) if a.context.community == community),
        title=activities[-1].context.title.strip(),
    )


def build_cases(histories: Iterable[History], size: int = 12, budget: int = 1536) -> Iterator[ReferenceCase]:
    for history in histories:
        case = build_case(history, size, budget)
        if case is not None:
            yield case


def split_of(user_id: str, seed: int = 0, val: float = 0.2, test: float = 0.2) -> Split:
    """A user's split from a hash of `seed:user_id`: stable, and independent of the other users."""
    bucket = int(hashlib.sha256(f"{seed}:{user_id}".encode()).hexdigest()[:8], 16) / 0x100000000
    if bucket < test:
        return Split.test
    if bucket < test + val:
        return Split.val
    return Split.train


def split_cases(
    cases: Iterable[ReferenceCase], seed: int = 0, val: float = 0.2, test: float = 0.2
) -> dict[Split, list[ReferenceCase]]:
    splits: dict[Split, list[ReferenceCase]] = {split: [] for split in Split}
    for case in cases:
        splits[split_of(case.user_id, seed, val, test)].append(case)
    return splits


def write_cases(cases: Iterable[ReferenceCase], path: str | Path) -> int:
    """JSON lines, one case each; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps(case.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_cases(path: str | Path) -> list[ReferenceCase]:
    path = Path(path)
    if not path.is_file():
        raise InputError(
            str(path), "no such reference set", hint="build one with `uue compile --histories DIR`"
        )
    cases = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                cases.append(ReferenceCase.from_dict(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
                raise InputError(str(path), f"not a reference case: {error}", line=number) from error
    return cases


# Each compilable behaviour turns cases into its own DSPy examples (its `Compilable.examples`).


def other_titles(cases: Sequence[ReferenceCase], case: ReferenceCase) -> list[str]:
    """The titles of the other users' cases, none equal to `case`'s: labels that do not fit it."""
    own = case.title.lower()
    return sorted(
        {c.title for c in cases if c.user_id != case.user_id and c.title and c.title.lower() != own}
    )
