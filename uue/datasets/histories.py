"""Per-user histories on disk: Parquet shards of `HISTORY_FEATURES` rows, read back as a HF dataset."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import accumulate, chain, repeat
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from uue.datasets.records import ACTIVITY_ROW_FIELDS, HISTORY_FEATURES, History, HistoryRows
from uue.errors import InputError

HISTORIES_SUBDIR = "histories"
ROWS_PER_WRITE = 500  # users per Arrow record batch: bounds writer memory
ROWS_PER_SHARD = 20000


class _ColumnBuilder:
    """Appends histories straight into Arrow columns (`pa.Table.from_pylist` on nested rows was the
    slowest step of ingestion: ~30 µs an activity).

    Keeps `ACTIVITY_ROW_FIELDS` tuples and transposes them once per table with `zip(*rows)`, so the
    per-activity work is C code, not Python attribute access.
    """

    _CONTEXT_TEXT = ("community", "title", "body", "root_author")

    def __init__(self) -> None:
        self.rows = 0
        self.users: list[str] = []
        self.platforms: list[str] = []
        self.activity_counts: list[int] = []
        self.activities: list[tuple] = []
        self.activity_users: list[str] = []
        self.activity_platforms: list[str] = []

    def add(self, history: History | HistoryRows) -> None:
        if isinstance(history, HistoryRows):
            rows = history.rows
            self.activity_users.extend(repeat(history.user_id, len(rows)))
            self.activity_platforms.extend(repeat(history.platform, len(rows)))
        else:  # an activity keeps its own user_id and platform, as written by its parser
            rows = [a.to_row() for a in history.activities]
            self.activity_users.extend([a.user_id for a in history.activities])
            self.activity_platforms.extend([a.platform for a in history.activities])
        self.rows += 1
        self.users.append(history.user_id)
        self.platforms.append(history.platform)
        self.activity_counts.append(len(rows))
        self.activities.extend(rows)

    def table(self, schema: pa.Schema) -> pa.Table:
        activity_type = schema.field("activities").type.value_type
        context_type = activity_type.field("context").type
        source_type = activity_type.field("source").type
        text = pa.string()
        # One column per field; no rows (users without activities only) gives no zip, hence the `or`.
        columns = list(zip(*self.activities, strict=True)) or [()] * len(ACTIVITY_ROW_FIELDS)
        fields = dict(zip(ACTIVITY_ROW_FIELDS, columns, strict=True))
        fields.update(user_id=self.activity_users, platform=self.activity_platforms)
        pairs = list(chain.from_iterable(fields["parents"]))
        authors, texts = zip(*pairs, strict=True) if pairs else ((), ())
        parents = pa.ListArray.from_arrays(
            _offsets(map(len, fields["parents"])),
            pa.StructArray.from_arrays(
                [pa.array(authors, text), pa.array(texts, text)],
                fields=list(context_type.field("parents").type.value_type),
            ),
        )
        context = pa.StructArray.from_arrays(
            [*(pa.array(fields[k], text) for k in self._CONTEXT_TEXT), parents],
            fields=list(context_type),
        )
        files = pa.array(fields["source_file"], text)  # None where an activity has no source
        source = pa.StructArray.from_arrays(
            [
                files.fill_null(""),
                pa.array(fields["source_line"], pa.int64()),
                pa.ListArray.from_arrays(
                    _offsets(map(len, fields["record_ids"])),
                    pa.array(list(chain.from_iterable(fields["record_ids"])), text),
                ),
            ],
            fields=list(source_type),
            mask=files.is_null(),
        )
        by_name = {
            k: pa.array(fields[k], text)
            for k in ("activity_id", "user_id", "platform", "kind", "text", "thread_id")
        }
        by_name.update(timestamp=pa.array(fields["timestamp"], pa.int64()), context=context, source=source)
        activities = pa.StructArray.from_arrays(
            [by_name[f.name] for f in activity_type], fields=list(activity_type)
        )
        return pa.Table.from_arrays(
            [
                pa.array(self.users, text),
                pa.array(self.platforms, text),
                pa.array(self.activity_counts, pa.int64()),
                pa.ListArray.from_arrays(_offsets(self.activity_counts), activities),
            ],
            schema=schema,
        )


def _offsets(counts: Iterable[int]) -> pa.Array:
    """List offsets from per-list lengths: 0, then the running total."""
    return pa.array(list(accumulate(counts, initial=0)), pa.int32())


def write_histories(histories: Iterable[History | HistoryRows], out_dir: Path) -> tuple[int, int]:
    """Write histories as `out_dir/histories/part-NNNNN.parquet`; returns (users, activities)."""
    shard_dir = out_dir / HISTORIES_SUBDIR
    shard_dir.mkdir(parents=True, exist_ok=True)
    for old in shard_dir.glob("part-*.parquet"):
        old.unlink()
    schema = HISTORY_FEATURES.arrow_schema
    users = activities = shard_index = shard_rows = 0
    writer: pq.ParquetWriter | None = None
    builder = _ColumnBuilder()

    def flush() -> None:
        nonlocal writer, shard_index, shard_rows, builder
        if writer is not None and shard_rows >= ROWS_PER_SHARD:
            writer.close()
            writer, shard_index = None, shard_index + 1
        if writer is None:
            writer, shard_rows = pq.ParquetWriter(shard_dir / f"part-{shard_index:05d}.parquet", schema), 0
        writer.write_table(builder.table(schema))
        shard_rows += builder.rows
        builder = _ColumnBuilder()

    for history in histories:
        builder.add(history)
        users += 1
        activities += builder.activity_counts[-1]
        if builder.rows >= ROWS_PER_WRITE:
            flush()
    if builder.rows or writer is None:
        flush()
    writer.close()
    return users, activities


def _shards(histories_dir: Path) -> list[str]:
    shard_dir = histories_dir / HISTORIES_SUBDIR
    shards = sorted(str(p) for p in shard_dir.glob("part-*.parquet"))
    if not shards:
        raise InputError(str(histories_dir), "no histories here", hint="create them with `uue ingest`")
    return shards


def load_histories(histories_dir: Path) -> datasets.Dataset:
    """The histories as a Hugging Face dataset (Arrow cache kept next to the shards)."""
    return datasets.Dataset.from_parquet(
        _shards(histories_dir), features=HISTORY_FEATURES, cache_dir=str(histories_dir / ".hf-cache")
    )


def iter_histories(histories_dir: Path, users: set[str] | None = None) -> Iterator[History]:
    """Stream `History` objects shard by shard, optionally only those of `users` (filtered in Arrow)."""
    for shard in _shards(histories_dir):
        if users is not None:
            table = pq.read_table(shard, filters=[("user_id", "in", sorted(users))])
            batches = table.to_batches(max_chunksize=256)
        else:
            batches = pq.ParquetFile(shard).iter_batches(batch_size=256)
        for batch in batches:
            for row in batch.to_pylist():
                yield History.from_dict(row)
