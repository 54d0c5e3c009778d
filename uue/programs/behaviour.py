"""The record of one teacher behaviour. A behaviour module builds its `BEHAVIOUR` from it;
`uue.programs.behaviours` registers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dspy


@dataclass(frozen=True)
class Behaviour:
    name: str  # the CLI name (`uue synth --mode NAME`)
    signature: type[dspy.Signature]
    build: Callable[[int], dspy.Module]  # attempts -> a fresh module
    # (input field lookup, a tag that depends on the whole prompt) -> a valid answer, for tests
    scripted_reply: Callable[[Callable[[str], str], str], dict[str, Any]]
    description: str

    @property
    def output_fields(self) -> tuple[str, ...]:
        return tuple(self.signature.output_fields)
