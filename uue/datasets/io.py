"""Streaming raw lines out of dump files (.zst, .gz, plain JSON lines) with their line numbers.

Lines are yielded as bytes so that one bad byte costs one line, not the file. A truncated or corrupt
compressed stream ends the file early with an `InputError` after every complete line was yielded.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

from uue.errors import InputError

# Pushshift dumps are compressed with --long=31: the decoder needs the full window.
ZSTD_MAX_WINDOW = 2**31
_READ_BUFFER = 1 << 20
_PROGRESS_EVERY = 4096
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate


class _Frames(io.RawIOBase):
    """Decompresses every frame (zstd) or member (gzip) of a stream and, unlike `stream_reader` or
    `GzipFile`, hands out every byte decompressed before a cut: a stream cut mid-way keeps every
    complete line, then raises `incomplete` (GzipFile raised EOFError and dropped its whole last block,
    so a cut .gz reported "after line 0")."""

    def __init__(self, raw: BinaryIO, new_frame: Callable, incomplete: type[Exception], padding: bytes = b""):
        self.raw = raw
        self.new_frame = new_frame
        self.incomplete = incomplete
        self.padding = padding  # bytes allowed between frames (gzip: zeros, as GzipFile skips them)
        self.frame = new_frame()
        self.frame_started = False
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            chunk = self.raw.read(_READ_BUFFER)
            if not chunk:
                if self.frame_started and not self.frame.eof:
                    raise self.incomplete("the last frame is incomplete")
                return 0
            while chunk:
                if not self.frame_started and self.padding:
                    chunk = chunk.lstrip(self.padding)
                    if not chunk:
                        break
                self.frame_started = True
                self.pending += self.frame.decompress(chunk)
                chunk = self.frame.unused_data if self.frame.eof else b""
                if self.frame.eof:  # the next bytes start a new frame
                    self.frame, self.frame_started = self.new_frame(), False
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _open_binary(raw: BinaryIO, path: Path) -> io.BufferedIOBase:
    if path.suffix == ".zst":
        context = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        return io.BufferedReader(_Frames(raw, context.decompressobj, zstandard.ZstdError), _READ_BUFFER)
    if path.suffix == ".gz":
        members = _Frames(raw, lambda: zlib.decompressobj(_GZIP_WBITS), EOFError, padding=b"\x00")
        return io.BufferedReader(members, _READ_BUFFER)
    return io.BufferedReader(raw, _READ_BUFFER)


def check_readable(path: Path) -> None:
    """Fail before any work starts when an input file is missing or not a file."""
    if not path.exists():
        raise InputError(str(path), "file not found", hint="check the path")
    if not path.is_file():
        raise InputError(str(path), "not a regular file")


def iter_lines(
    path: Path,
    on_progress: Callable[[int], None] | None = None,
    on_truncated: Callable[[str], None] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Yield `(line_number, raw_line)` for every line, 1-based, without the trailing newline; the `\r`
    of a CRLF line stays (JSON reads it as whitespace, and a quarantined line is kept verbatim).

    `on_progress(compressed_bytes_read)` is called every few thousand lines (for progress bars). A
    stream that ends early or is corrupt ends the file after its last complete line: with
    `on_truncated`, that gets the one-line message and the caller goes on (the other files, the
    report); without it, an InputError is raised.
    """
    check_readable(path)
    line_number = 0
    with open(path, "rb") as raw, _open_binary(raw, path) as stream:
        try:
            for line_number, line in enumerate(stream, start=1):  # noqa: B007 - used after the loop
                if on_progress is not None and line_number % _PROGRESS_EVERY == 0:
                    on_progress(raw.tell())
                yield line_number, line.removesuffix(b"\n")
            if on_progress is not None:
                on_progress(raw.tell())
        except (zstandard.ZstdError, zlib.error, EOFError, OSError) as error:
            problem = InputError(
                str(path),
                f"compressed stream ends early or is corrupt after line {line_number} ({error})",
                line=line_number + 1,
                hint="the complete lines before it were kept",
            )
            if on_truncated is None:
                raise problem from None
            on_truncated(str(problem))
