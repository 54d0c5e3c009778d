"""The record of one teacher behaviour. A behaviour module builds its `BEHAVIOUR` from it;
`uue.programs.behaviours` registers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dspy

if TYPE_CHECKING:
    from uue.optimizers.metrics import Metric
    from uue.optimizers.references import ReferenceCase


@dataclass(frozen=True)
class Compilable:
    """How `uue compile` optimises a behaviour: its part name, where its module sits, its examples and
    its metrics. `uue.optimizers.compile_config` builds `--program` and `--metric` from these."""

    part: str  # the `uue compile --program` name
    attribute: str  # the behaviour's module on `SynthProgram`
    examples: Callable[[list[ReferenceCase], int], list[dspy.Example]]  # (cases, seed) -> examples
    # metric CLI name -> (validation cases, seed) -> a fresh metric; the first is the default
    metrics: dict[str, Callable[[list[ReferenceCase], int], Metric]]

    def __post_init__(self) -> None:
        if not self.metrics:
            raise ValueError(f"compilable part {self.part!r} has no metric: it needs one to compile on")


@dataclass(frozen=True)
class Behaviour:
    name: str  # the CLI name (`uue synth --mode NAME`)
    signature: type[dspy.Signature]
    build: Callable[[int], dspy.Module]  # attempts -> a fresh module
    # (input field lookup, a tag that depends on the whole prompt) -> a valid answer, for tests
    scripted_reply: Callable[[Callable[[str], str], str], dict[str, Any]]
    description: str
    compile: Compilable | None = None  # None: `uue compile` cannot optimise it

    @property
    def output_fields(self) -> tuple[str, ...]:
        return tuple(self.signature.output_fields)
