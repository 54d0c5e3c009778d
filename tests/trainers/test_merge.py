"""`uue merge`: the weight average of a model and its fine-tuned descendant, with its provenance."""

from __future__ import annotations

import json

import torch
from sentence_transformers import SentenceTransformer

from uue.models import offline_minilm_path
from uue.trainers.merge import MergeConfig, merge_models


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
