"""Raw lines out of dump files: plain, gzip and zstd give the same numbered lines, every frame or member
is read, and a cut or corrupt stream keeps its complete lines and ends with a one-line InputError."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import zstandard

from uue.datasets.io import check_readable, iter_lines
from uue.errors import InputError


@pytest.fixture(scope="module")
def raw(shared_data) -> bytes:
    """The real Pushshift comment fixture: 27 JSON lines, the last without a newline."""
    return (shared_data / "pushshift-fixtures" / "test_comments.json").read_bytes()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _expected(raw: bytes) -> list[tuple[int, bytes]]:
    return list(enumerate(raw.split(b"\n"), start=1))


def test_plain_gzip_and_zstd_give_the_same_numbered_lines(raw, tmp_path):
    plain = _write(tmp_path / "RC.jsonl", raw)
    gz = _write(tmp_path / "RC.jsonl.gz", gzip.compress(raw))
    zst = _write(tmp_path / "RC.zst", zstandard.ZstdCompressor().compress(raw))
    expected = _expected(raw)
    assert len(expected) == 27 and expected[-1][1].endswith(b"}")  # no newline after the last line
    for path in (plain, gz, zst):
        assert list(iter_lines(path)) == expected, path.name


def test_every_zstd_frame_and_gzip_member_is_read_zero_padding_included(raw, tmp_path):
    cut = raw.index(b"\n", len(raw) // 2) + 1
    zstd = zstandard.ZstdCompressor()
    frames = _write(tmp_path / "RC.zst", zstd.compress(raw[:cut]) + zstd.compress(raw[cut:]))
    members = gzip.compress(raw[:cut]) + b"\x00" * 512 + gzip.compress(raw[cut:])
    padded = _write(tmp_path / "RC.gz", members)
    assert list(iter_lines(frames)) == _expected(raw)
    assert list(iter_lines(padded)) == _expected(raw)


def test_a_crlf_line_keeps_its_carriage_return(tmp_path):
    path = _write(tmp_path / "crlf.jsonl", b'{"a": 1}\r\n{"b": 2}\n')
    assert list(iter_lines(path)) == [(1, b'{"a": 1}\r'), (2, b'{"b": 2}')]  # no empty line after the last


def test_progress_reports_compressed_bytes_and_ends_at_the_file_size(raw, tmp_path):
    zst = _write(tmp_path / "RC.zst", zstandard.ZstdCompressor().compress(raw))
    seen: list[int] = []
    assert len(list(iter_lines(zst, on_progress=seen.append))) == 27
    assert seen == [zst.stat().st_size]  # fewer lines than one progress step: only the final call


def test_a_cut_zstd_stream_keeps_the_complete_lines_then_raises_one_line(raw, tmp_path):
    compressed = zstandard.ZstdCompressor(level=1).compress(raw)
    cut = _write(tmp_path / "RC.zst", compressed[: len(compressed) * 2 // 3])
    lines: list[tuple[int, bytes]] = []
    with pytest.raises(InputError) as caught:
        for item in iter_lines(cut):
            lines.append(item)
    assert lines == _expected(raw)[: len(lines)]  # a prefix of the real lines, none garbled
    error = caught.value
    assert error.path == str(cut) and error.line == len(lines) + 1
    assert f"compressed stream ends early or is corrupt after line {len(lines)}" in str(error)
    assert "\n" not in str(error) and str(error).endswith("(the complete lines before it were kept)")


def test_with_on_truncated_a_cut_stream_is_reported_and_not_raised(raw, tmp_path):
    whole = gzip.compress(raw)
    cut = _write(tmp_path / "RC.gz", whole[: len(whole) - 40])  # trailer and the last block's end gone
    messages: list[str] = []
    lines = list(iter_lines(cut, on_truncated=messages.append))
    assert 0 < len(lines) < 27 and lines == _expected(raw)[: len(lines)]
    assert len(messages) == 1 and messages[0].startswith(f"{cut}:{len(lines) + 1}: compressed stream")


def test_a_file_that_is_not_zstd_at_all_fails_at_line_1(tmp_path):
    junk = _write(tmp_path / "RC.zst", b"this is not a zstd frame\n" * 4)
    with pytest.raises(InputError) as caught:
        list(iter_lines(junk))
    assert caught.value.line == 1 and "after line 0" in str(caught.value)


def test_missing_files_and_folders_fail_before_any_work(tmp_path):
    with pytest.raises(InputError) as caught:
        check_readable(tmp_path / "RC.zst")
    assert str(caught.value) == f"{tmp_path / 'RC.zst'}: file not found (check the path)"
    with pytest.raises(InputError, match="not a regular file"):
        next(iter_lines(tmp_path))
