"""Evaluation protocols by name (`full`, `random99`, `popular100`): parsed by the config and the evaluator."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from uue.errors import ConfigError


class ProtocolKind(str, Enum):
    full = "full"
    random = "random"
    popular = "popular"


@dataclass(frozen=True)
class Protocol:
    kind: ProtocolKind
    num_negatives: int = 0

    @property
    def name(self) -> str:
        return self.kind.value if self.kind is ProtocolKind.full else f"{self.kind.value}{self.num_negatives}"


def parse_protocol(text: str | Protocol) -> Protocol:
    """`full`, `random99`, `random100`, `popular100`, ... -> Protocol."""
    if isinstance(text, Protocol):
        return text
    match = re.fullmatch(r"(full)|(random|popular)(\d+)", text.strip().lower())
    if not match:
        raise ConfigError(f"unknown evaluation protocol {text!r}", hint="use full, random<N> or popular<N>")
    if match.group(1):
        return Protocol(ProtocolKind.full)
    return Protocol(ProtocolKind(match.group(2)), int(match.group(3)))
