"""A tiny real training run: base MiniLM towers, a few steps on real shared users, a loadable model."""

from __future__ import annotations

import pytest
import torch

from uue.twotower.config import TwoTowerConfig
from uue.twotower.train import load_two_tower, train_two_tower


@pytest.mark.slow
@pytest.mark.parametrize("metadata", [False, True])
def test_a_few_steps_on_real_users_give_a_loadable_model(real_users, tmp_path, metadata):
    config, histories = real_users
    config = config.model_copy(update={"user_metadata": metadata, "item_metadata": metadata})
    report = train_two_tower(config)
    assert report.steps == 2 and report.users_per_second > 0 and 0.01 <= report.temperature <= 1.0
    assert report.device == "cpu" and report.precision == "float32" and report.peak_memory_mb > 100
    model, saved = load_two_tower(tmp_path / "tt")
    assert saved == config
    if metadata:  # trained: the side information's zero-initialised output layers moved
        assert all(m.out.weight.abs().sum() > 0 for m in (model.user_metadata, model.item_metadata))
    else:
        assert model.user_metadata is None and model.item_metadata is None
    with torch.no_grad():
        vectors = model.items(["Topic 0", "Discussion"])
    assert vectors.shape[0] == 2 and torch.isfinite(vectors).all()
    from uue.eval.embedders import make_embedder
    from uue.eval.user_vectors import Pooling, pooled_vectors

    embedder = make_embedder(f"two-tower:{tmp_path / 'tt'}")  # the bench's and `uue embed`'s way in
    users = pooled_vectors([h.activities for h in histories[:3]], embedder, [Pooling.mean])[Pooling.mean]
    assert users.shape[0] == 3 and torch.allclose(
        torch.from_numpy(users).norm(dim=1), torch.ones(3), atol=1e-5
    )
    assert embedder.score(["r/College · exams"], ["Topic 0", "Discussion"]).shape == (1, 2)


@pytest.mark.parametrize(("attention_dropout", "expected"), [(0.0, 0.0), (None, 0.1)])
def test_attention_dropout_reaches_both_encoders(tmp_path, attention_dropout, expected):
    from uue.twotower.train import build_model

    config = TwoTowerConfig(histories=tmp_path, labels=tmp_path / "l.jsonl", out=tmp_path / "tt",
                            attention_dropout=attention_dropout, track=False)  # fmt: skip
    model = build_model(config)
    for tower in (model.user_encoder, model.item_encoder):
        bert = tower.model[0].auto_model
        assert bert.config.attention_probs_dropout_prob == expected
        assert all(layer.attention.self.dropout.p == expected for layer in bert.encoder.layer)
