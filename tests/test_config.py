"""The one config style: unknown keys and bad values are errors that name the key, in one line."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError, model_validator

from uue.config import Config, config_from_dict, problems
from uue.errors import ConfigError


class Inner(Config):
    size: int = Field(1, ge=1)


class Outer(Config):
    name: str
    inner: Inner = Field(default_factory=Inner)


def test_config_from_dict_builds_the_typed_config():
    config = config_from_dict(Outer, {"name": "run", "inner": {"size": 3}})
    assert config == Outer(name="run", inner=Inner(size=3))


def test_an_unknown_key_is_named_with_its_section():
    with pytest.raises(ConfigError) as caught:
        config_from_dict(Outer, {"name": "run", "inner": {"size": 3, "szie": 4}}, source="run.yaml")
    assert str(caught.value) == "run.yaml: inner.szie: unknown key"


def test_every_bad_key_is_named_in_one_line():
    with pytest.raises(ConfigError) as caught:
        config_from_dict(Outer, {"inner": {"size": 0}, "extra": 1})
    message = str(caught.value)
    assert message.startswith("config: ")
    assert "name: Field required" in message
    assert "inner.size: Input should be greater than or equal to 1" in message
    assert "extra: unknown key" in message
    assert "\n" not in message and message.count(";") == 2


def test_assignments_are_validated_too():
    config = Outer(name="run")
    with pytest.raises(ValidationError) as caught:
        config.inner.size = 0
    assert problems(caught.value) == "size: Input should be greater than or equal to 1"


def test_a_model_level_error_is_placed_on_the_config():
    class Ordered(Config):
        low: int
        high: int

        @model_validator(mode="after")
        def _ordered(self) -> Ordered:
            if self.low >= self.high:
                raise ValueError("low must be below high")
            return self

    with pytest.raises(ValidationError) as caught:
        Ordered(low=2, high=1)
    assert problems(caught.value) == "config: Value error, low must be below high"
