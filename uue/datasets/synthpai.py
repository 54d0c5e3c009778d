"""SynthPAI (eth-sri/SynthPAI `comments_eval_revised.jsonl`): one user per line with their comments.

The release has no timestamps and no thread structure: activity order is the file's order and the
timestamp is the comment's position, so histories stay time-ordered by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from uue.datasets.io import iter_lines
from uue.datasets.options import IngestOptions
from uue.datasets.parser import PlatformParser, register_parser
from uue.datasets.records import Activity, History, Source
from uue.datasets.tally import IngestTally


@register_parser
@dataclass
class SynthPAIParser(PlatformParser):
    platform = "synthpai"
    files: Sequence[Path]
    workdir: Path | None = None
    on_progress: Callable[[Path, int], None] | None = None

    def histories(self, options: IngestOptions, tally: IngestTally) -> Iterator[History]:
        selected: list[History] = []
        for path in self.files:
            progress = (lambda done, path=path: self.on_progress(path, done)) if self.on_progress else None
            for line_number, raw in iter_lines(path, progress, tally.problem):
                tally.lines_read += 1
                history = self._parse_line(str(path), line_number, raw, tally)
                if history is None:
                    continue
                kept = [a for a in history.activities if options.in_range(a.timestamp)]
                tally.skip("outside_time_range", len(history.activities) - len(kept))
                if len(kept) < options.min_activities:
                    tally.skip("user_below_min_activities", len(kept))
                    continue
                selected.append(History(history.user_id, self.platform, kept))
        # The release is small (300 users), so the most-active selection is done in memory.
        selected.sort(key=lambda h: (-len(h.activities), h.user_id))
        limit = options.max_users or len(selected)
        for history in selected[limit:]:
            tally.skip("over_max_users", len(history.activities))
        yield from sorted(selected[:limit], key=lambda h: h.user_id)

    def _parse_line(self, file: str, line_number: int, raw: bytes, tally: IngestTally) -> History | None:
        if not raw.strip():
            tally.records_read += 1
            tally.skip("empty_line")
            return None
        try:
            row = orjson.loads(raw)
            user_id = row["username"]
            comments = row["comments"]
            if not isinstance(user_id, str) or not isinstance(comments, list):
                raise TypeError("username must be text and comments a list")
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            tally.records_read += 1
            reason = (
                "malformed_json"
                if isinstance(error, orjson.JSONDecodeError)
                else "missing_field:username/comments"
            )
            tally.reject(file, line_number, reason, raw, str(error)[:80])
            return None
        activities = []
        for position, comment in enumerate(comments):
            tally.records_read += 1
            text = comment.get("text") if isinstance(comment, dict) else None
            if not isinstance(text, str) or not text.strip():
                tally.skip("empty_text")
                continue
            activities.append(
                Activity(
                    activity_id=f"{user_id}:{position}",
                    user_id=user_id,
                    platform=self.platform,
                    kind="comment",
                    timestamp=position,
                    text=text,
                    source=Source(file, line_number, [f"{user_id}:{position}"]),
                )
            )
        return History(user_id, self.platform, activities)
