"""The contract of a platform parser, and `@register_parser`, which a platform module puts on its class."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from uue.datasets.options import IngestOptions
from uue.datasets.records import History
from uue.datasets.tally import IngestTally


class PlatformParser(ABC):
    """Turns one platform's raw files into per-user `History` objects, keeping the tally balanced.

    A parser counts every input record in `tally.records_read` (lines in `tally.lines_read`), and
    every record that does not become a written activity under a reason in `tally.skipped`
    (rejected lines through `tally.reject`). Parsers are constructed as
    `Parser(files=..., workdir=..., on_progress=...)`; `workdir` is scratch space on disk and
    `on_progress(path, compressed_bytes_read)` feeds progress bars.
    """

    platform: ClassVar[str]
    files: Sequence[Path]
    workdir: Path | None
    on_progress: Callable[[Path, int], None] | None

    @abstractmethod
    def histories(self, options: IngestOptions, tally: IngestTally) -> Iterator[History]:
        """Yield each selected user's history, oldest activity first."""


PARSERS: dict[str, type[PlatformParser]] = {}


def register_parser(cls: type[PlatformParser]) -> type[PlatformParser]:
    if cls.platform in PARSERS:
        raise ValueError(f"a parser for platform '{cls.platform}' is already registered")
    PARSERS[cls.platform] = cls
    return cls
