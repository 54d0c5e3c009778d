from __future__ import annotations

import io
from pathlib import Path

import pytest
import zstandard

from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions


def head_lines(path: Path, count: int) -> list[bytes]:
    with open(path, "rb") as raw:
        stream = io.BufferedReader(zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(raw))
        return [line for _, line in zip(range(count), stream, strict=False)]


@pytest.fixture(scope="session")
def reddit_files(shared_data) -> list[Path]:
    folder = shared_data / "reddit-college"
    return [folder / "RS_reddit-college.zst", folder / "RC_reddit-college.zst"]


@pytest.fixture(scope="session")
def full_reddit(reddit_files, tmp_path_factory) -> Path:
    """All of the shared reddit-college RC+RS ingested once per session (~20-40 s)."""
    out = tmp_path_factory.mktemp("reddit-full")
    ingest("reddit", reddit_files, out, IngestOptions())
    return out


@pytest.fixture(scope="session")
def reddit_slice(reddit_files, tmp_path_factory) -> list[Path]:
    """The first 4,000 submissions and 40,000 comments of the real dumps, as plain JSON lines."""
    folder = tmp_path_factory.mktemp("reddit-slice")
    paths = []
    for source, count in zip(reddit_files, (4000, 40000), strict=True):
        path = folder / (source.stem + ".jsonl")
        path.write_bytes(b"".join(head_lines(source, count)))
        paths.append(path)
    return paths
