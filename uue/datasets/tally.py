"""What happened to every input line: counted, and quarantined verbatim when it was rejected.

Invariant kept by every parser: `records_read == records_written + sum(skipped.values())`, where a
record is one input line for line-per-record formats (Reddit: `records_read == lines_read`) and one
activity inside a line for formats that pack a user per line (SynthPAI; a line that cannot be parsed
counts as one record).
Rejected lines (bad JSON, bad bytes, missing fields, ...) go to the quarantine file with their reason;
lines that are valid but not a user activity (deleted author, bot, removed body, duplicates) and lines
left out by the user's own filters are counted under their reason and stay in the input untouched.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import BaseModel

MAX_PRINTED_PROBLEMS = 20


class IngestReport(BaseModel):
    """What `uue ingest` returns and writes as report.json: the tally of every input line."""

    platform: str
    lines_read: int
    records_read: int
    records_written: int
    users_written: int
    skipped: dict[str, int]
    quarantined: int
    quarantine_path: Path
    problems: int  # one-line messages about the input; the first `MAX_PRINTED_PROBLEMS` in `messages`
    messages: list[str]
    balanced: bool  # records_read == records_written + every skipped record
    seconds: float
    made_by: dict


@dataclass
class IngestTally:
    quarantine_path: Path
    lines_read: int = 0
    records_read: int = 0
    records_written: int = 0
    users_written: int = 0
    skipped: Counter = field(default_factory=Counter)
    quarantined: int = 0
    problems: list[str] = field(default_factory=list)  # one-line messages for the user
    problem_count: int = 0
    _quarantine: IO[str] | None = None

    def open(self) -> IngestTally:
        self.quarantine_path.parent.mkdir(parents=True, exist_ok=True)
        self._quarantine = open(self.quarantine_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        return self

    def close(self) -> None:
        if self._quarantine is not None:
            self._quarantine.close()
            self._quarantine = None

    def problem(self, message: str) -> None:
        """A one-line message about the input that the user should see (first few are kept)."""
        self.problem_count += 1
        if len(self.problems) < MAX_PRINTED_PROBLEMS:
            self.problems.append(message)

    def reject(self, file: str, line: int, reason: str, raw: bytes, detail: str = "") -> None:
        """Count a rejected line, keep it verbatim in the quarantine, and note a one-line message."""
        self.skipped[reason] += 1
        self.quarantined += 1
        entry: dict = {"file": file, "line": line, "reason": reason, "detail": detail}
        try:
            entry["raw"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            entry["raw_base64"] = base64.b64encode(raw).decode("ascii")
        assert self._quarantine is not None, "IngestTally.open() must be called first"
        self._quarantine.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.problem(f"{file}:{line}: {reason}{': ' + detail if detail else ''} (quarantined)")

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] += count

    def balanced(self) -> bool:
        return self.records_read == self.records_written + sum(self.skipped.values())

    def report(self, platform: str, seconds: float, made_by: dict) -> IngestReport:
        return IngestReport(
            platform=platform,
            lines_read=self.lines_read,
            records_read=self.records_read,
            records_written=self.records_written,
            users_written=self.users_written,
            skipped=dict(sorted(self.skipped.items())),
            quarantined=self.quarantined,
            quarantine_path=self.quarantine_path,
            problems=self.problem_count,
            messages=self.problems,
            balanced=self.balanced(),
            seconds=round(seconds, 2),
            made_by=made_by,
        )
