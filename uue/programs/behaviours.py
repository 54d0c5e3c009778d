"""The registry of teacher behaviours: one record per behaviour, so adding one is one file + one line.

A record says what the behaviour is called on the command line, which DSPy module implements it and
how the scripted test teacher answers its signature; a compilable one also says how `uue compile`
builds its examples and metrics (`uue.programs.behaviour.Compilable`). `uue/programs/activity.py` is
the template (`pivot.py` for a compilable one): the signature, the validation, the module and
`BEHAVIOUR` (a `uue.programs.behaviour.Behaviour`) live in that one file, and one line of `_BUILTIN`
below names it.
"""

from __future__ import annotations

from uue.errors import ConfigError
from uue.programs import activity, judge, negatives, pivot, profile
from uue.programs.behaviour import Behaviour

_REGISTRY: dict[str, Behaviour] = {}


def register_behaviour(behaviour: Behaviour) -> Behaviour:
    """Add a behaviour; a name, an output-field set, a compile part or a metric name used twice fails
    loudly."""
    if behaviour.name in _REGISTRY:
        raise ConfigError(f"teacher behaviour {behaviour.name!r} is registered twice")
    if any(set(b.output_fields) == set(behaviour.output_fields) for b in _REGISTRY.values()):
        raise ConfigError(
            f"teacher behaviour {behaviour.name!r} has the same outputs as another one",
            hint="the scripted teacher tells behaviours apart by their output fields",
        )
    if behaviour.compile is not None:
        _check_compile_names(behaviour)
    _REGISTRY[behaviour.name] = behaviour
    return behaviour


def _check_compile_names(behaviour: Behaviour) -> None:
    """`uue compile --program` and `--metric` are one choice each across all behaviours."""
    part = behaviour.compile.part
    if part in compilable():
        raise ConfigError(f"compile part {part!r} of {behaviour.name!r} is registered twice")
    taken = {name for b in compilable().values() for name in b.compile.metrics}
    if shared := sorted(taken & set(behaviour.compile.metrics)):
        raise ConfigError(
            f"metric {shared[0]!r} of compile part {part!r} is registered twice",
            hint="`uue compile --metric NAME` names one metric: give it another name",
        )


def compilable() -> dict[str, Behaviour]:
    """The behaviours `uue compile` can optimise, keyed by their `--program` part name."""
    return {b.compile.part: b for b in _REGISTRY.values() if b.compile is not None}


_BUILTIN = (  # one line per behaviour
    pivot.BEHAVIOUR,
    activity.BEHAVIOUR,
    negatives.RERANK_BEHAVIOUR,
    negatives.GENERATE_BEHAVIOUR,
    judge.BEHAVIOUR,
    profile.BEHAVIOUR,
)
for _behaviour in _BUILTIN:
    register_behaviour(_behaviour)


def behaviours() -> dict[str, Behaviour]:
    return dict(_REGISTRY)


def get_behaviour(name: str) -> Behaviour:
    found = behaviours().get(name)
    if found is None:
        raise ConfigError(f"unknown teacher behaviour {name!r}", hint=f"one of {sorted(_REGISTRY)}")
    return found


def behaviour_for_outputs(fields: list[str]) -> Behaviour | None:
    """The registered behaviour whose signature writes exactly `fields` (the scripted teacher's key)."""
    return next((b for b in behaviours().values() if set(b.output_fields) == set(fields)), None)
