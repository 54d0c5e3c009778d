"""Options shared by every platform parser, validated on construction."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from enum import Enum

from pydantic import ConfigDict, Field, field_validator, model_validator

from uue.config import Config
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


class JoinIndex(str, Enum):
    auto = "auto"  # memory while the dumps fit the budget, else disk
    memory = "memory"
    disk = "disk"  # bounded RAM for huge dumps


class IngestOptions(Config):
    """Which users and activities end up in the histories."""

    model_config = ConfigDict(frozen=True)

    min_activities: int = Field(
        1, ge=1, description="Leave out users with fewer activities (in the time range)"
    )
    max_users: int | None = Field(None, ge=1, description="Keep only the N most active users (ties: user id)")
    since: int | None = Field(
        None, description="Only activities from this date (YYYY-MM-DD, UTC; or unix seconds)"
    )
    until: int | None = Field(
        None, description="Only activities before this date (YYYY-MM-DD, UTC; or unix seconds)"
    )
    max_parent_depth: int = Field(8, ge=0, description="Parent comments kept per activity, nearest first")
    bots: frozenset[str] | None = Field(
        None, description="Comma-separated bot accounts (replaces the platform's default list)"
    )
    index: JoinIndex = Field(JoinIndex.auto, description="Where parsers that join keep lines")
    memory_budget_mb: int = Field(default_factory=_default_memory_budget_mb, ge=1)

    @field_validator("since", "until", mode="before")
    @classmethod
    def _date_as_seconds(cls, value: object) -> object:
        return parse_date(value) if isinstance(value, str) and not value.isdigit() else value

    @field_validator("bots", mode="before")
    @classmethod
    def _bots_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(b.strip() for b in value.split(",") if b.strip())
        return value

    @model_validator(mode="after")
    def _range_is_ordered(self) -> IngestOptions:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("--since must be before --until")
        return self

    def in_range(self, timestamp: int) -> bool:
        return (self.since is None or timestamp >= self.since) and (
            self.until is None or timestamp < self.until
        )
