"""Per-user histories on disk, with their context stored once, and read back as `History` objects.

Layout of an ingest output directory:
    histories/part-NNNNN.parquet  one row per user (`HISTORY_SCHEMA`); each activity points to
    threads/part-NNNNN.parquet    its thread's title, body and author (`THREAD_SCHEMA`, by context_id)
    messages/part-NNNNN.parquet   and its parent messages (`MESSAGE_SCHEMA`, by parent_ids).
A thread or message may be written more than once (by different batches, always with the same
content); readers take the first. `iter_histories` joins everything back into full `History` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate, chain, repeat
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from uue.datasets.cards import HISTORY_COLUMNS, write_card
from uue.datasets.records import (
    ACTIVITY_ROW_FIELDS,
    HISTORY_SCHEMA,
    MESSAGE_SCHEMA,
    THREAD_SCHEMA,
    Activity,
    ContextMessage,
    History,
    HistoryRows,
    Source,
    ThreadContext,
)
from uue.errors import InputError
from uue.provenance import sha256_text

if TYPE_CHECKING:
    import datasets

HISTORIES_SUBDIR = "histories"
THREADS_SUBDIR = "threads"
MESSAGES_SUBDIR = "messages"
ROWS_PER_WRITE = 2000  # users per Arrow record batch: bounds writer memory
ROWS_PER_SHARD = 20000  # users per histories file (threads and messages: the batches of those users)


@dataclass
class HistoryBatch:
    """Histories ready for storage: Arrow tables of `HISTORY_SCHEMA`, `THREAD_SCHEMA` and
    `MESSAGE_SCHEMA` rows. Parsers that join on columns (reddit_columns.py) hand these over."""

    histories: pa.Table
    threads: pa.Table
    messages: pa.Table


def message_key(message_id: str, author: str, text: str) -> str:
    """The platform's id, or one derived from the content for platforms without message ids."""
    return message_id or "sha256:" + sha256_text(author + "\0" + text)[:24]


class _ColumnBuilder:
    """Collects histories as `ACTIVITY_ROW_FIELDS` tuples and turns them into one `HistoryBatch`,
    transposing with `zip(*rows)` so the per-activity work is C code, not Python attribute access.

    Thread rows are keyed by the activity's thread_id. `HistoryRows` come from parsers whose threads
    are consistent by construction; for `History` objects a thread_id seen with other content, in
    this batch or an earlier one (`known_threads`, shared by the writer's builders), gets a key of its
    own, so no activity is ever shown another one's context.
    """

    def __init__(self, known_threads: dict[str, int] | None = None) -> None:
        self.users: list[str] = []
        self.platforms: list[str] = []
        self.activity_counts: list[int] = []
        self.activities: list[tuple] = []
        self.activity_users: list[str] = []
        self.activity_platforms: list[str] = []
        self.context_ids: list[str] = []
        self.threads: dict[str, tuple[str, str, str]] = {}
        self.messages: dict[str, tuple[str, str]] = {}
        self.known_threads = {} if known_threads is None else known_threads  # thread_id -> content hash

    @property
    def rows(self) -> int:
        return len(self.users)

    def add(self, history: History | HistoryRows) -> None:
        if isinstance(history, HistoryRows):
            rows = history.rows
            self.activity_users.extend(repeat(history.user_id, len(rows)))
            self.activity_platforms.extend(repeat(history.platform, len(rows)))
        else:  # an activity keeps its own user_id and platform, as written by its parser
            rows = [a.to_row() for a in history.activities]
            self.activity_users.extend([a.user_id for a in history.activities])
            self.activity_platforms.extend([a.platform for a in history.activities])
        self.context_ids.extend(self._context_ids(rows, checked=not isinstance(history, HistoryRows)))
        self.users.append(history.user_id)
        self.platforms.append(history.platform)
        self.activity_counts.append(len(rows))
        self.activities.extend(rows)

    def _context_ids(self, rows: list[tuple], checked: bool) -> list[str]:
        """The thread row key of each activity ("" without thread context), its thread stored."""
        keys = []
        for row in rows:
            thread_id, content = row[4], row[6:9]  # thread_id; title, body, root_author
            if not any(content):
                keys.append("")
                continue
            if checked and self.known_threads.setdefault(thread_id, hash(content)) != hash(content):
                thread_id += "#" + sha256_text("\0".join(content))[:16]
            self.threads.setdefault(thread_id, content)
            keys.append(thread_id)
        return keys

    def _parent_ids(self, chains: Iterable[Iterable[tuple[str, str, str]]]) -> list[list[str]]:
        messages, ids = self.messages, []
        for parents in chains:
            keys = []
            for message_id, author, text in parents:
                key = message_key(message_id, author, text)
                messages.setdefault(key, (author, text))
                keys.append(key)
            ids.append(keys)
        return ids

    def batch(self) -> HistoryBatch:
        activity_type = HISTORY_SCHEMA.field("activities").type.value_type
        text = pa.string()
        # One column per field; no rows (users without activities only) gives no zip, hence the `or`.
        columns = list(zip(*self.activities, strict=True)) or [()] * len(ACTIVITY_ROW_FIELDS)
        fields = dict(zip(ACTIVITY_ROW_FIELDS, columns, strict=True))
        fields.update(user_id=self.activity_users, platform=self.activity_platforms)
        fields["context_id"] = self.context_ids
        fields["parent_ids"] = self._parent_ids(fields["parents"])
        files = pa.array(fields["source_file"], text)  # None where an activity has no source
        source = pa.StructArray.from_arrays(
            [files.fill_null(""), pa.array(fields["source_line"], pa.int64()), _lists(fields["record_ids"])],
            fields=list(activity_type.field("source").type),
            mask=files.is_null(),
        )
        by_name = {
            name: pa.array(fields[name], text)
            for name in ("activity_id", "user_id", "platform", "kind", "text", "community", "thread_id")
        }
        by_name.update(
            timestamp=pa.array(fields["timestamp"], pa.int64()),
            context_id=pa.array(fields["context_id"], text),
            parent_ids=_lists(fields["parent_ids"]),
            source=source,
        )
        activities = pa.StructArray.from_arrays(
            [by_name[f.name] for f in activity_type], fields=list(activity_type)
        )
        histories = pa.Table.from_arrays(
            [
                pa.array(self.users, text),
                pa.array(self.platforms, text),
                pa.array(self.activity_counts, pa.int64()),
                pa.ListArray.from_arrays(_offsets(self.activity_counts), activities),
            ],
            schema=HISTORY_SCHEMA,
        )
        thread_columns = list(zip(*self.threads.values(), strict=True)) or [()] * 3
        message_columns = list(zip(*self.messages.values(), strict=True)) or [()] * 2
        return HistoryBatch(
            histories,
            pa.Table.from_arrays(
                [pa.array(list(self.threads), text), *(pa.array(c, text) for c in thread_columns)],
                schema=THREAD_SCHEMA,
            ),
            pa.Table.from_arrays(
                [pa.array(list(self.messages), text), *(pa.array(c, text) for c in message_columns)],
                schema=MESSAGE_SCHEMA,
            ),
        )


def _offsets(counts: Iterable[int]) -> pa.Array:
    """List offsets from per-list lengths: 0, then the running total."""
    return pa.array(list(accumulate(counts, initial=0)), pa.int32())


def _lists(values: list) -> pa.ListArray:
    return pa.ListArray.from_arrays(
        _offsets(map(len, values)), pa.array(list(chain.from_iterable(values)), pa.string())
    )


class _ShardedWriter:
    """Parquet files `dir/part-NNNNN.parquet`, a new one after `rows_per_shard` rows."""

    def __init__(self, directory: Path, schema: pa.Schema, rows_per_shard: int | None):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("part-*.parquet"):
            old.unlink()
        self.directory, self.schema, self.rows_per_shard = directory, schema, rows_per_shard
        self.writer: pq.ParquetWriter | None = None
        self.shard = self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self.writer is not None and self.rows_per_shard and self.rows >= self.rows_per_shard:
            self.writer.close()
            self.writer, self.shard = None, self.shard + 1
        if self.writer is None:
            path = self.directory / f"part-{self.shard:05d}.parquet"
            # Statistics and dictionary pages cost a quarter of the writing time, and no reader here
            # filters on statistics; the files grow by 4%.
            self.writer = pq.ParquetWriter(path, self.schema, use_dictionary=False, write_statistics=False)
            self.rows = 0
        self.writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        if self.writer is None:  # nothing written: an empty file keeps the directory readable
            self.write(self.schema.empty_table())
        self.writer.close()


def write_histories(
    histories: Iterable[History | HistoryRows | HistoryBatch], out_dir: Path
) -> tuple[int, int]:
    """Write histories (and their context, once) under `out_dir`; returns (users, activities)."""
    writers = {
        "histories": _ShardedWriter(out_dir / HISTORIES_SUBDIR, HISTORY_SCHEMA, ROWS_PER_SHARD),
        "threads": _ShardedWriter(out_dir / THREADS_SUBDIR, THREAD_SCHEMA, None),
        "messages": _ShardedWriter(out_dir / MESSAGES_SUBDIR, MESSAGE_SCHEMA, None),
    }
    users = activities = 0
    known_threads: dict[str, int] = {}
    builder = _ColumnBuilder(known_threads)

    def write(batch: HistoryBatch) -> None:
        nonlocal users, activities
        writers["histories"].write(batch.histories)
        writers["threads"].write(batch.threads)
        writers["messages"].write(batch.messages)
        users += batch.histories.num_rows
        activities += pc.sum(batch.histories["num_activities"]).as_py() or 0

    for history in histories:
        if isinstance(history, HistoryBatch):
            if builder.rows:
                write(builder.batch())
                builder = _ColumnBuilder(known_threads)
            write(history)
            continue
        builder.add(history)
        if builder.rows >= ROWS_PER_WRITE:
            write(builder.batch())
            builder = _ColumnBuilder(known_threads)
    if builder.rows:
        write(builder.batch())
    for writer in writers.values():
        writer.close()
    write_card(
        out_dir, "uue histories", f"Per-user, time-ordered activity histories written by `uue ingest`: {users:,} users, "
        f"{activities:,} activities. Threads and parent messages are stored once and joined by `iter_histories`.",
        {name: f"{name}/*.parquet" for name in (HISTORIES_SUBDIR, THREADS_SUBDIR, MESSAGES_SUBDIR)
         if name == HISTORIES_SUBDIR or _has_rows(out_dir / name)},  # datasets cannot load an empty part
        HISTORY_COLUMNS,
    )  # fmt: skip
    return users, activities


def _has_rows(directory: Path) -> bool:
    return any(pq.ParquetFile(p).metadata.num_rows for p in directory.glob("part-*.parquet"))


def count_users(histories_dir: str | Path) -> int:
    """Users in a histories folder, from the Parquet footers (no row is read)."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in _shards(Path(histories_dir)))


def _shards(histories_dir: str | Path, subdir: str = HISTORIES_SUBDIR) -> list[str]:
    shards = sorted(str(p) for p in (Path(histories_dir) / subdir).glob("part-*.parquet"))
    if not shards and subdir == HISTORIES_SUBDIR:
        raise InputError(str(histories_dir), "no histories here", hint="create them with `uue ingest`")
    return shards


def activity_owners(histories_dir: str | Path) -> dict[str, str]:
    """activity id -> user id of every stored history (reads only those two columns)."""
    owners: dict[str, str] = {}
    for shard in _shards(Path(histories_dir)):
        table = pq.ParquetFile(shard).read(columns=["user_id", "activities.list.element.activity_id"])
        for user, activities in zip(
            table["user_id"].to_pylist(), table["activities"].to_pylist(), strict=True
        ):
            for activity in activities:
                owners[activity["activity_id"]] = user
    return owners


def load_histories(histories_dir: str | Path) -> datasets.Dataset:
    """The stored history rows as a Hugging Face dataset (Arrow cache in the datasets library's own
    cache, never in the input folder); their activities point to the context (`context_id`,
    `parent_ids`): `iter_histories` joins it in."""
    import datasets  # here: importing it costs ingestion 1.8 CPU s

    return datasets.Dataset.from_parquet(
        _shards(Path(histories_dir)), features=datasets.Features.from_arrow_schema(HISTORY_SCHEMA)
    )


class _Context:
    """The threads and messages of a histories directory, loaded on first use, first row wins."""

    def __init__(self, histories_dir: Path):
        self.histories_dir = histories_dir
        self._threads: dict[str, tuple[str, str, str]] | None = None
        self._messages: dict[str, tuple[str, str]] | None = None

    def _load(self, subdir: str) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        for shard in _shards(self.histories_dir, subdir):
            table = pq.read_table(shard)
            key, *values = (table[name].to_pylist() for name in table.column_names)
            for item in zip(key, zip(*values, strict=True), strict=True):
                found.setdefault(*item)
        return found

    def thread(self, context_id: str) -> tuple[str, str, str]:
        if self._threads is None:
            self._threads = self._load(THREADS_SUBDIR)
        return self._threads.get(context_id, ("", "", ""))

    def message(self, message_id: str) -> ContextMessage:
        if self._messages is None:
            self._messages = self._load(MESSAGES_SUBDIR)
        author, text = self._messages[message_id]
        return ContextMessage(author, text, message_id)

    def history(self, row: dict) -> History:
        activities = []
        for a in row["activities"]:
            title, body, root = self.thread(a["context_id"]) if a["context_id"] else ("", "", "")
            source = a["source"]
            activities.append(
                Activity(
                    activity_id=a["activity_id"],
                    user_id=a["user_id"],
                    platform=a["platform"],
                    kind=a["kind"],
                    timestamp=a["timestamp"],
                    text=a["text"],
                    context=ThreadContext(
                        a["community"], title, body, root, [self.message(m) for m in a["parent_ids"]]
                    ),
                    thread_id=a["thread_id"],
                    source=Source(source["file"], source["line"], source["record_ids"]) if source else None,
                )
            )
        return History(row["user_id"], row["platform"], activities)


def iter_histories(histories_dir: str | Path, users: set[str] | None = None) -> Iterator[History]:
    """Stream full `History` objects shard by shard, optionally only those of `users` (filtered in
    Arrow). The context is loaded on the first activity that needs it."""
    histories_dir = Path(histories_dir)
    context = _Context(histories_dir)
    for shard in _shards(histories_dir):
        if users is not None:
            table = pq.read_table(shard, filters=[("user_id", "in", sorted(users))])
            batches = table.to_batches(max_chunksize=256)
        else:
            batches = pq.ParquetFile(shard).iter_batches(batch_size=256)
        for batch in batches:
            for row in batch.to_pylist():
                yield context.history(row)
