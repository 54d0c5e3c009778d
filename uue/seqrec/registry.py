"""Recommender registry: adding a model is one module under `@register_recommender("name")` plus its
line in `BUILTIN`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from uue.errors import ConfigError

if TYPE_CHECKING:
    from uue.seqrec.layers import SeqRecommender

RecommenderT = TypeVar("RecommenderT", bound="type[SeqRecommender]")

_RECOMMENDERS: dict[str, type[SeqRecommender]] = {}

# The built-in recommenders' modules, imported on the first lookup: a `uue` command that never asks
# for a recommender (train, synth, bench) does not load them.
BUILTIN = ("uue.seqrec.sasrec", "uue.seqrec.bert4rec")  # one line per recommender


def _load_builtin() -> None:
    for module in BUILTIN:
        importlib.import_module(module)  # its @register_recommender runs once, at first import


def register_recommender(name: str) -> Callable[[RecommenderT], RecommenderT]:
    """Class decorator. The class must define `config_class`; a second class under one name is an error."""

    def decorator(cls: RecommenderT) -> RecommenderT:
        if name in _RECOMMENDERS:
            raise ValueError(
                f"recommender {name!r} is already registered by {_RECOMMENDERS[name].__qualname__}"
            )
        if not hasattr(cls, "config_class"):
            raise TypeError(f"{cls.__qualname__} must define `config_class` to be registered")
        cls.registry_name = name
        _RECOMMENDERS[name] = cls
        return cls

    return decorator


def get_recommender(name: str) -> type[SeqRecommender]:
    _load_builtin()
    try:
        return _RECOMMENDERS[name]
    except KeyError:
        known = ", ".join(sorted(_RECOMMENDERS)) or "none"
        raise ConfigError(f"unknown recommender {name!r}", hint=f"known: {known}") from None


def registered_recommenders() -> list[str]:
    _load_builtin()
    return sorted(_RECOMMENDERS)
