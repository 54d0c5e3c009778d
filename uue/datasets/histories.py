"""Per-user histories on disk: Parquet shards of `HISTORY_FEATURES` rows, read back as a HF dataset."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from uue.datasets.records import HISTORY_FEATURES, History
from uue.errors import InputError

HISTORIES_SUBDIR = "histories"
ROWS_PER_WRITE = 500  # users per Arrow record batch: bounds writer memory
ROWS_PER_SHARD = 20000


class _ColumnBuilder:
    """Appends histories straight into Arrow columns (`pa.Table.from_pylist` on nested rows was the
    slowest step of ingestion: ~30 µs an activity)."""

    _ACTIVITY_TEXT = ("activity_id", "user_id", "platform", "kind", "text", "thread_id")
    _CONTEXT_TEXT = ("community", "title", "body", "root_author")

    def __init__(self) -> None:
        self.rows = 0
        self.users: list[str] = []
        self.platforms: list[str] = []
        self.activity_offsets = [0]
        self.columns: dict[str, list] = {
            k: [] for k in (*self._ACTIVITY_TEXT, *self._CONTEXT_TEXT, "timestamp")
        }
        self.parent_offsets, self.parent_authors, self.parent_texts = [0], [], []
        self.source_missing: list[bool] = []
        self.source_files: list[str] = []
        self.source_lines: list[int] = []
        self.record_id_offsets, self.record_ids = [0], []

    def add(self, history: History) -> None:
        self.rows += 1
        self.users.append(history.user_id)
        self.platforms.append(history.platform)
        columns = self.columns
        for activity in history.activities:
            for name in self._ACTIVITY_TEXT:
                columns[name].append(getattr(activity, name))
            columns["timestamp"].append(activity.timestamp)
            context = activity.context
            for name in self._CONTEXT_TEXT:
                columns[name].append(getattr(context, name))
            for parent in context.parents:
                self.parent_authors.append(parent.author)
                self.parent_texts.append(parent.text)
            self.parent_offsets.append(len(self.parent_authors))
            source = activity.source
            self.source_missing.append(source is None)
            self.source_files.append(source.file if source else "")
            self.source_lines.append(source.line if source else 0)
            self.record_ids.extend(source.record_ids if source else ())
            self.record_id_offsets.append(len(self.record_ids))
        self.activity_offsets.append(len(columns["timestamp"]))

    def table(self, schema: pa.Schema) -> pa.Table:
        activity_type = schema.field("activities").type.value_type
        context_type = activity_type.field("context").type
        source_type = activity_type.field("source").type
        text = pa.string()
        parents = pa.ListArray.from_arrays(
            pa.array(self.parent_offsets, pa.int32()),
            pa.StructArray.from_arrays(
                [pa.array(self.parent_authors, text), pa.array(self.parent_texts, text)],
                fields=list(context_type.field("parents").type.value_type),
            ),
        )
        context = pa.StructArray.from_arrays(
            [*(pa.array(self.columns[k], text) for k in self._CONTEXT_TEXT), parents],
            fields=list(context_type),
        )
        source = pa.StructArray.from_arrays(
            [
                pa.array(self.source_files, text),
                pa.array(self.source_lines, pa.int64()),
                pa.ListArray.from_arrays(
                    pa.array(self.record_id_offsets, pa.int32()), pa.array(self.record_ids, text)
                ),
            ],
            fields=list(source_type),
            mask=pa.array(self.source_missing, pa.bool_()),
        )
        by_name = {k: pa.array(self.columns[k], text) for k in self._ACTIVITY_TEXT}
        by_name.update(
            timestamp=pa.array(self.columns["timestamp"], pa.int64()), context=context, source=source
        )
        activities = pa.StructArray.from_arrays(
            [by_name[f.name] for f in activity_type], fields=list(activity_type)
        )
        offsets = pa.array(self.activity_offsets, pa.int32())
        counts = [b - a for a, b in zip(self.activity_offsets, self.activity_offsets[1:], strict=False)]
        return pa.Table.from_arrays(
            [
                pa.array(self.users, text),
                pa.array(self.platforms, text),
                pa.array(counts, pa.int64()),
                pa.ListArray.from_arrays(offsets, activities),
            ],
            schema=schema,
        )


def write_histories(histories: Iterable[History], out_dir: Path) -> tuple[int, int]:
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
        activities += len(history.activities)
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
