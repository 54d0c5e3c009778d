"""The platform parser registry: adding a platform is one module plus one `@register_parser` line."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from uue.datasets.options import IngestOptions
from uue.datasets.records import History
from uue.datasets.tally import IngestTally
from uue.errors import ConfigError


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


def get_parser(platform: str) -> type[PlatformParser]:
    _load_builtin_parsers()
    try:
        return PARSERS[platform]
    except KeyError:
        raise ConfigError(
            f"no parser for platform '{platform}'", hint=f"known: {', '.join(sorted(PARSERS))}"
        ) from None


def _load_builtin_parsers() -> None:
    # Importing the modules runs their @register_parser lines.
    from uue.datasets import reddit, synthpai  # noqa: F401
