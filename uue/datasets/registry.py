"""The platform parser registry: adding a platform is one module plus one import line here.

A platform module subclasses `PlatformParser` under `@register_parser` (`uue.datasets.parser`); the
import below runs that line. The parsers never import this module, so there is no circle.
"""

from __future__ import annotations

from enum import Enum

from uue.datasets import reddit, synthpai  # noqa: F401  (registration)
from uue.datasets.parser import PARSERS, PlatformParser
from uue.errors import ConfigError

# The CLI's choice of platform: every registered parser (typer lists and validates them).
Platform = Enum("Platform", {name: name for name in sorted(PARSERS)}, type=str)


def get_parser(platform: str) -> type[PlatformParser]:
    try:
        return PARSERS[platform]
    except KeyError:
        raise ConfigError(
            f"no parser for platform '{platform}'", hint=f"known: {', '.join(sorted(PARSERS))}"
        ) from None
