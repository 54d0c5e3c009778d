"""The registry of teacher behaviours: every built-in one is there once, duplicates fail loudly."""

from __future__ import annotations

import json

import pytest

from uue.errors import ConfigError
from uue.programs.behaviours import behaviours, get_behaviour, register_behaviour
from uue.programs.scripted import deterministic_reply

# One row per registered behaviour: adding a behaviour adds its name here (the first test fails until then).
ROWS = ["pivot", "activity", "rerank", "generate", "judge", "profile"]


def test_every_builtin_behaviour_is_registered_with_distinct_outputs():
    found = behaviours()
    assert set(found) == set(ROWS)
    outputs = [frozenset(b.output_fields) for b in found.values()]
    assert len(set(outputs)) == len(outputs)


@pytest.mark.parametrize("name", ROWS)
def test_the_scripted_teacher_answers_each_behaviour_with_its_fields(name):
    behaviour = get_behaviour(name)
    answer = json.loads(deterministic_reply("[[ ## pivot ## ]]\n2\n\n[[ ## activity ## ]]\nr/x\nSUBJECT: a b",
                                            list(behaviour.output_fields)))  # fmt: skip
    assert set(answer) == set(behaviour.output_fields)


def test_a_second_registration_fails_loudly():
    with pytest.raises(ConfigError, match="registered twice"):
        register_behaviour(get_behaviour("activity"))
    with pytest.raises(ConfigError, match="unknown teacher behaviour"):
        get_behaviour("no-such")
