"""`uue merge`: the weight average of a model and its fine-tuned descendant, with its provenance."""

from __future__ import annotations

import json
import os

import torch
from sentence_transformers import SentenceTransformer

from uue.models import offline_minilm_path
from uue.trainers.merge import MergeConfig, merge_models, merge_or_reuse


def test_merge_interpolates_every_float_weight_and_records_how(tmp_path):
    tuned = SentenceTransformer(str(offline_minilm_path()), device="cpu")
    with torch.no_grad():
        for tensor in tuned.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(1.0)  # a "fine-tuned" model one unit away in every weight
    tuned.save_pretrained(str(tmp_path / "tuned"))
    base = SentenceTransformer(str(offline_minilm_path()), device="cpu").state_dict()

    for weight in (0.0, 0.25, 1.0):
        out = merge_models(MergeConfig(base="minilm", tuned=str(tmp_path / "tuned"), weight=weight,
                                       out=tmp_path / f"m{weight}"))  # fmt: skip
        merged = SentenceTransformer(str(out), device="cpu").state_dict()
        for name, tensor in merged.items():
            expected = base[name] + weight if tensor.is_floating_point() else base[name]
            assert torch.allclose(tensor, expected, atol=1e-5), (weight, name)
    provenance = json.loads((tmp_path / "m0.25" / "uue_provenance.json").read_text())
    assert provenance["made_by"]["command"] == "uue merge"
    assert provenance["made_by"]["settings"]["weight"] == 0.25


def test_a_merge_is_reused_only_while_its_settings_and_weight_files_are_the_same(tmp_path):
    SentenceTransformer(str(offline_minilm_path()), device="cpu").save_pretrained(str(tmp_path / "tuned"))
    config = MergeConfig(base="minilm", tuned=str(tmp_path / "tuned"), weight=0.5, out=tmp_path / "m")
    merge_or_reuse(config)
    stamp = (tmp_path / "m" / "uue_provenance.json").stat().st_mtime_ns
    assert merge_or_reuse(config) == tmp_path / "m"
    assert (tmp_path / "m" / "uue_provenance.json").stat().st_mtime_ns == stamp  # reused

    merge_or_reuse(config.model_copy(update={"weight": 0.25}))  # other settings: merged again
    assert (
        json.loads((tmp_path / "m" / "uue_provenance.json").read_text())["made_by"]["settings"]["weight"]
        == 0.25
    )
    stamp = (tmp_path / "m" / "uue_provenance.json").stat().st_mtime_ns
    weights = tmp_path / "tuned" / "model.safetensors"
    os.utime(
        weights, (weights.stat().st_atime, weights.stat().st_mtime + 10)
    )  # the tuned model was retrained
    merge_or_reuse(config.model_copy(update={"weight": 0.25}))
    assert (tmp_path / "m" / "uue_provenance.json").stat().st_mtime_ns != stamp
