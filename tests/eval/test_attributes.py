"""SynthPAI zero-shot attributes (uue/eval/attributes.py) on the real release: the human-checked
values as statements, per-attribute candidates, the popularity prior and a real model's ranks."""

from __future__ import annotations

import numpy as np
import pytest

from uue.datasets.histories import iter_histories
from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions
from uue.errors import InputError
from uue.eval.attributes import attribute_candidates, attribute_ranks, checked_statements
from uue.eval.embedders import BM25Embedder


@pytest.fixture(scope="module")
def synthpai(shared_data, tmp_path_factory):
    path = shared_data / "synthpai/comments_eval_revised.jsonl"
    out = tmp_path_factory.mktemp("synthpai")
    ingest("synthpai", [path], out, IngestOptions())
    return checked_statements(path), list(iter_histories(out))


def test_only_human_checked_values_become_statements(synthpai):
    truths, _ = synthpai
    first = truths["SpiralSphinx"]  # its reviewer guessed age 50 (correct) and no sex (not checked)
    assert first["age"] == "SUBJECT is in their fifties" and "sex" not in first
    assert first["education_category"] == "SUBJECT has a college degree"
    candidates = attribute_candidates(truths)
    assert candidates["sex"] == ["SUBJECT is a man", "SUBJECT is a woman"]
    assert len(candidates["income_level"]) == 3 and len(candidates["occupation"]) > 50
    assert sum("sex" in t for t in truths.values()) == 141


def test_prior_and_a_model_rank_every_checked_user(synthpai):
    truths, histories = synthpai
    prior = attribute_ranks(None, histories, truths)
    lexical = attribute_ranks(BM25Embedder(), histories, truths)
    candidates = attribute_candidates(truths)
    for attribute, ranks in prior.items():
        assert len(ranks) == len(lexical[attribute]) == sum(attribute in t for t in truths.values())
        assert (ranks < len(candidates[attribute])).all()
    # the majority of checked sexes is female (85 of 141): the prior puts "woman" first for them
    assert np.mean(prior["sex"] == 0) == pytest.approx(85 / 141)


def test_a_file_that_is_not_synthpai_is_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"username": "a"}\n')
    with pytest.raises(InputError, match="bad.jsonl:1"):
        checked_statements(bad)
