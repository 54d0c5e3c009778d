"""The universal record format (seed 001's "universal intermediate representation").

Every platform parser turns its raw lines into `Activity` records; a user's `History` is the
time-ordered list of them (parsers that build many histories may hand the writer `HistoryRows`, the
same activities as flat tuples). Records are plain slotted dataclasses because ingestion creates one per
input line (hundreds of thousands a second) and validation happens in the parsers.

Storage (`histories.py`) keeps the context once, not once per activity: a thread's title and body
and a parent comment are shared by every reply of every user (on the shared Reddit dumps they were
three quarters of the bytes). Histories are rows of `HISTORY_SCHEMA` whose activities point to
`THREAD_SCHEMA` rows (`context_id`) and `MESSAGE_SCHEMA` rows (`parent_ids`, oldest first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(slots=True)
class ContextMessage:
    """Another message the activity answers (a parent comment, an earlier chat turn). `message_id`
    is the platform's id where it has one; storage derives one from the content otherwise."""

    author: str
    text: str
    message_id: str = field(default="", compare=False)


@dataclass(slots=True)
class ThreadContext:
    """Where the activity happened: community, thread root, and the chain of parents (oldest first)."""

    community: str = ""
    title: str = ""
    body: str = ""
    root_author: str = ""
    parents: list[ContextMessage] = field(default_factory=list)


@dataclass(slots=True)
class Source:
    """Provenance: the input file, its 1-based line, and the platform ids of every record joined in."""

    file: str
    line: int
    record_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Activity:
    """One thing a user did: their own words plus the context they were written in."""

    activity_id: str
    user_id: str
    platform: str
    kind: str  # "comment", "submission", "chat", ...
    timestamp: int  # unix seconds; platforms without time use the position in the user's stream
    text: str
    context: ThreadContext = field(default_factory=ThreadContext)
    thread_id: str = ""  # activities sharing a thread share pseudonyms for other authors
    source: Source | None = None

    @property
    def thread_key(self) -> str:
        """The thread it belongs to; an activity outside any thread is its own."""
        return self.thread_id or self.activity_id

    def to_dict(self) -> dict:
        # Written by hand: dataclasses.asdict deep-copies every string and dominated ingestion time.
        context, source = self.context, self.source
        return {
            "activity_id": self.activity_id,
            "user_id": self.user_id,
            "platform": self.platform,
            "kind": self.kind,
            "timestamp": self.timestamp,
            "text": self.text,
            "context": {
                "community": context.community,
                "title": context.title,
                "body": context.body,
                "root_author": context.root_author,
                "parents": [{"author": p.author, "text": p.text} for p in context.parents],
            },
            "thread_id": self.thread_id,
            "source": None
            if source is None
            else {"file": source.file, "line": source.line, "record_ids": source.record_ids},
        }

    def to_row(self) -> tuple:
        """This activity as an `ACTIVITY_ROW_FIELDS` tuple (no provenance: source_file None)."""
        context, source = self.context, self.source
        return (
            self.timestamp,
            self.activity_id,
            self.kind,
            self.text,
            self.thread_id,
            context.community,
            context.title,
            context.body,
            context.root_author,
            [(p.message_id, p.author, p.text) for p in context.parents],
            *((source.file, source.line, source.record_ids) if source else (None, 0, ())),
        )

    @classmethod
    def from_row(cls, user_id: str, platform: str, row: tuple) -> Activity:
        (timestamp, activity_id, kind, text, thread_id, community, title, body, root_author, parents,
         source_file, source_line, record_ids) = row  # fmt: skip
        return cls(
            activity_id=activity_id,
            user_id=user_id,
            platform=platform,
            kind=kind,
            timestamp=timestamp,
            text=text,
            context=ThreadContext(
                community, title, body, root_author, [ContextMessage(a, t, m) for m, a, t in parents]
            ),
            thread_id=thread_id,
            source=None if source_file is None else Source(source_file, source_line, list(record_ids)),
        )

    @classmethod
    def from_dict(cls, row: dict) -> Activity:
        context = dict(row.get("context") or {})
        context["parents"] = [ContextMessage(**p) for p in context.get("parents") or []]
        source = row.get("source")
        return cls(
            activity_id=row["activity_id"],
            user_id=row["user_id"],
            platform=row["platform"],
            kind=row["kind"],
            timestamp=int(row["timestamp"]),
            text=row["text"],
            context=ThreadContext(**context),
            thread_id=row.get("thread_id") or "",
            source=Source(**source) if source else None,
        )


@dataclass(slots=True)
class History:
    """A user's activities, oldest first."""

    user_id: str
    platform: str
    activities: list[Activity]

    def to_dict(self) -> dict:
        return {
            "user_id": self.user_id,
            "platform": self.platform,
            "num_activities": len(self.activities),
            "activities": [a.to_dict() for a in self.activities],
        }

    @classmethod
    def from_dict(cls, row: dict) -> History:
        return cls(row["user_id"], row["platform"], [Activity.from_dict(a) for a in row["activities"]])


# An activity as a flat tuple, in this order: what parsers that build many histories hand the
# Parquet writer instead of `Activity` objects (one tuple per activity instead of four objects, and
# a timestamp-first order that sorts a history with a plain `list.sort()`). `parents` is a sequence
# of (message_id, author, text) triples, oldest first (message_id may be ""); `source_file` is None
# when the activity has no provenance.
ACTIVITY_ROW_FIELDS = (
    "timestamp",
    "activity_id",
    "kind",
    "text",
    "thread_id",
    "community",
    "title",
    "body",
    "root_author",
    "parents",
    "source_file",
    "source_line",
    "record_ids",
)


@dataclass(slots=True)
class HistoryRows:
    """A user's history as `ACTIVITY_ROW_FIELDS` tuples, oldest first; `write_histories` takes it
    wherever it takes a `History`."""

    user_id: str
    platform: str
    rows: list[tuple]

    def to_history(self) -> History:
        return History(
            self.user_id,
            self.platform,
            [Activity.from_row(self.user_id, self.platform, r) for r in self.rows],
        )


# Arrow schemas, not `datasets.Features`: ingestion should not pay `import datasets` (1.8 CPU s, a
# tenth of ingesting the shared dumps); `load_histories` converts them for Hugging Face.
_STR = pa.string()
STORED_ACTIVITY_TYPE = pa.struct(
    [
        ("activity_id", _STR),
        ("user_id", _STR),
        ("platform", _STR),
        ("kind", _STR),
        ("timestamp", pa.int64()),
        ("text", _STR),
        ("community", _STR),
        ("thread_id", _STR),
        ("context_id", _STR),  # the thread's row in THREAD_SCHEMA; "" when there is no thread context
        ("parent_ids", pa.list_(_STR)),  # rows in MESSAGE_SCHEMA, oldest first
        ("source", pa.struct([("file", _STR), ("line", pa.int64()), ("record_ids", pa.list_(_STR))])),
    ]
)
HISTORY_SCHEMA = pa.schema(
    [
        ("user_id", _STR),
        ("platform", _STR),
        ("num_activities", pa.int64()),
        ("activities", pa.list_(STORED_ACTIVITY_TYPE)),
    ]
)
THREAD_SCHEMA = pa.schema([("context_id", _STR), ("title", _STR), ("body", _STR), ("root_author", _STR)])
MESSAGE_SCHEMA = pa.schema([("message_id", _STR), ("author", _STR), ("text", _STR)])
