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


def write_histories(histories: Iterable[History], out_dir: Path) -> tuple[int, int]:
    """Write histories as `out_dir/histories/part-NNNNN.parquet`; returns (users, activities)."""
    shard_dir = out_dir / HISTORIES_SUBDIR
    shard_dir.mkdir(parents=True, exist_ok=True)
    for old in shard_dir.glob("part-*.parquet"):
        old.unlink()
    schema = HISTORY_FEATURES.arrow_schema
    users = activities = shard_index = shard_rows = 0
    writer: pq.ParquetWriter | None = None
    rows: list[dict] = []

    def flush() -> None:
        nonlocal writer, shard_index, shard_rows
        if writer is not None and shard_rows >= ROWS_PER_SHARD:
            writer.close()
            writer, shard_index = None, shard_index + 1
        if writer is None:
            writer, shard_rows = pq.ParquetWriter(shard_dir / f"part-{shard_index:05d}.parquet", schema), 0
        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
        shard_rows += len(rows)
        rows.clear()

    for history in histories:
        rows.append(history.to_dict())
        users += 1
        activities += len(history.activities)
        if len(rows) >= ROWS_PER_WRITE:
            flush()
    if rows or writer is None:
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
    """Stream `History` objects shard by shard, optionally only those of `users`."""
    for shard in _shards(histories_dir):
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=256):
            for row in batch.to_pylist():
                if users is None or row["user_id"] in users:
                    yield History.from_dict(row)
