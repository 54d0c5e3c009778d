"""The registry of teacher behaviours: every built-in one is there once, duplicates fail loudly, and a
compilable one is a whole unit: its examples, module and metrics work together without other tables."""

from __future__ import annotations

import dataclasses
import json

import dspy
import numpy as np
import pytest

from tests.programs.conftest import TOPICS, make_history
from uue.errors import ConfigError
from uue.optimizers.references import build_case
from uue.programs.behaviour import Compilable
from uue.programs.behaviours import behaviours, compilable, get_behaviour, register_behaviour
from uue.programs.scripted import deterministic_reply, scripted_lm

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


def test_a_compile_part_or_metric_name_used_twice_fails_loudly():
    pivot = get_behaviour("pivot")
    twin = dataclasses.replace(pivot, name="pivot-copy", signature=_renamed_outputs(pivot.signature))
    with pytest.raises(ConfigError, match="compile part 'cluster'"):
        register_behaviour(twin)
    other_part = dataclasses.replace(twin, compile=dataclasses.replace(pivot.compile, part="cluster-2"))
    with pytest.raises(ConfigError, match="metric 'f1' of compile part 'cluster-2'"):
        register_behaviour(other_part)
    assert "pivot-copy" not in behaviours() and set(compilable()) == {"cluster", "rerank", "judge"}
    with pytest.raises(ValueError, match="no metric"):
        Compilable("empty", "pivot", pivot.compile.examples, {})


def _renamed_outputs(signature: type[dspy.Signature]) -> type[dspy.Signature]:
    """The signature with one more output field: another output set, so only the compile names clash."""
    return signature.append("extra", dspy.OutputField(), type_=str)


class WordEmbedder:
    """A bag of words over the test topics: the embedder metrics score without loading MiniLM."""

    name = "words"
    vocabulary = ["secured", "card", "credit", "bike", "tires", "tomatoes", "thread", "scripted"]

    def encode_documents(self, texts):
        rows = np.array([[t.lower().count(w) + 1e-3 for w in self.vocabulary] for t in texts])  # [n, vocab]
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def reference_cases():
    """Tiny reference cases: each community of a user is one thread, so threads interleave."""
    cases = []
    for user, items in TOPICS.items():
        history = make_history(user, items)
        for activity in history.activities:
            activity.thread_id = f"t3_{user}_{activity.context.community}"
        cases.append(build_case(history))
    return [case for case in cases if case is not None]


@pytest.mark.parametrize("part", sorted(compilable()))
def test_a_compilable_behaviour_is_one_unit(part, monkeypatch):
    """From its own record only: examples from reference cases, its module answers them (scripted
    teacher), and every metric it declares scores that answer in [0, 1]."""
    monkeypatch.setattr("uue.optimizers.metrics.default_embedder", WordEmbedder)
    behaviour, cases = compilable()[part], reference_cases()
    assert len(cases) >= 2
    examples = behaviour.compile.examples(cases, 0)
    assert examples, part
    module = behaviour.build(1)
    lm = scripted_lm(deterministic_reply, model="scripted/deterministic")
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        pred = module(**examples[0].inputs())
        assert pred.failure is None, pred.failure
        for name, make_metric in behaviour.compile.metrics.items():
            score = make_metric(cases, 0)(examples[0], pred)
            assert 0.0 <= score <= 1.0, (part, name, score)
