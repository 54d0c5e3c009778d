"""Options shared by every platform parser, validated on construction."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

from uue.errors import ConfigError


def parse_date(value: str | None) -> int | None:
    """'2020-01-31' (or any ISO date/time, UTC when no zone) → unix seconds."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"'{value}' is not a date", hint="use YYYY-MM-DD") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _default_memory_budget_mb() -> int:
    """A third of this machine's RAM: room for the index, the batch being written and everything else."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 / 3)
    except (ValueError, OSError, AttributeError):
        return 4096


@dataclass(frozen=True)
class IngestOptions:
    """Which users and activities end up in the histories."""

    min_activities: int = 1  # users with fewer activities (inside the time range) are left out
    max_users: int | None = None  # keep the most active users, ties broken by user id
    since: int | None = None  # unix seconds, inclusive
    until: int | None = None  # unix seconds, exclusive
    max_parent_depth: int = 8  # parent comments kept per activity, nearest first
    bots: frozenset[str] | None = None  # authors that are bots; None = the platform's default list
    index: str = "auto"  # where parsers that join keep lines: "memory", "disk" (bounded RAM) or "auto"
    memory_budget_mb: int = field(default_factory=lambda: _default_memory_budget_mb())

    def __post_init__(self) -> None:
        if self.min_activities < 1:
            raise ConfigError("--min-activities must be at least 1")
        if self.max_users is not None and self.max_users < 1:
            raise ConfigError("--max-users must be at least 1")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ConfigError("--since must be before --until")
        if self.index not in ("auto", "memory", "disk"):
            raise ConfigError(f"--index must be auto, memory or disk, not '{self.index}'")
        if self.max_parent_depth < 0:
            raise ConfigError("--max-parent-depth must be 0 or more")

    def in_range(self, timestamp: int) -> bool:
        return (self.since is None or timestamp >= self.since) and (
            self.until is None or timestamp < self.until
        )
