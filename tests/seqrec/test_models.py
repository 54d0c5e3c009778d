"""SASRec / BERT4Rec: attention masks (no future leakage, padding ignored), registry, training step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from uue.errors import ConfigError
from uue.seqrec import layers
from uue.seqrec.bert4rec import BERT4Rec, BERT4RecConfig
from uue.seqrec.data import NegativeSampler, SeqRecData, TrainBatch, pad_left
from uue.seqrec.registry import get_recommender, register_recommender, registered_recommenders
from uue.seqrec.sasrec import SASRec, SASRecConfig

NUM_ITEMS = 20
MAXLEN = 8

# One row per registered model (adding a model = one row here).
MODELS = [
    pytest.param(SASRec, SASRecConfig, id="sasrec"),
    pytest.param(BERT4Rec, BERT4RecConfig, id="bert4rec"),
]


def make(cls, config_cls, **overrides):
    torch.manual_seed(0)
    config = config_cls(
        maxlen=MAXLEN, hidden_units=16, num_blocks=2, num_heads=2, dropout_rate=0.0, **overrides
    )
    return cls(config, NUM_ITEMS).eval()


def sequences() -> torch.Tensor:
    return pad_left([np.array([3, 7, 1, 9, 4]), np.array([2, 5, 6, 8, 10, 11, 12, 13])], MAXLEN)  # [2, 8]


def test_every_model_has_a_test_row() -> None:
    assert registered_recommenders() == sorted(p.id for p in MODELS)


def test_sasrec_causal_mask_no_future_leakage() -> None:
    model = make(SASRec, SASRecConfig)
    ids = sequences()
    before = model.encode(ids).hidden_states
    perturbed = ids.clone()
    perturbed[:, 5] = 15  # change the item at position 5 in both rows
    after = model.encode(perturbed).hidden_states
    for layer_before, layer_after in zip(before, after, strict=True):
        torch.testing.assert_close(layer_before[:, :5], layer_after[:, :5])  # earlier positions unchanged
        assert not torch.allclose(layer_before[:, 5:], layer_after[:, 5:])  # later ones do change


def test_the_leakage_test_fails_without_the_causal_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove the causal mask: the check above must now see the future leak into earlier positions."""
    monkeypatch.setattr(
        layers, "causal_mask", lambda length, device="cpu": torch.ones(length, length, dtype=torch.bool)
    )
    model = make(SASRec, SASRecConfig)
    ids = sequences()
    perturbed = ids.clone()
    perturbed[:, 5] = 15
    leaked = model.encode(ids).last[1, :5] - model.encode(perturbed).last[1, :5]
    assert leaked.abs().max() > 1e-4


@pytest.mark.parametrize(("cls", "config_cls"), MODELS)
def test_padding_is_ignored(cls, config_cls) -> None:
    """Changing what padding positions embed to must not change the outputs at real positions."""
    model = make(cls, config_cls)
    ids = sequences()[:1]  # [1, 8]: 5 items after 3 padding positions
    real = ids != 0
    before = model.encode(ids).hidden_states
    with torch.no_grad():
        model.item_emb.weight[0].normal_()  # a non-zero padding embedding
        model.pos_emb.weight[:3].normal_(std=5.0)  # positions that are padding in row 0
    after = model.encode(ids).hidden_states
    for layer_before, layer_after in zip(before, after, strict=True):
        torch.testing.assert_close(layer_before[real], layer_after[real])
        assert torch.all(layer_after[~real] == 0)  # padding outputs are zeroed


def test_bert4rec_is_bidirectional() -> None:
    model = make(BERT4Rec, BERT4RecConfig)
    ids = sequences()
    perturbed = ids.clone()
    perturbed[:, -1] = 15  # change the most recent item
    assert not torch.allclose(model.encode(ids).last[:, 3], model.encode(perturbed).last[:, 3])


@pytest.mark.parametrize(("cls", "config_cls"), MODELS)
def test_score_all_shape_and_training_step(cls, config_cls) -> None:
    model = make(cls, config_cls).train()
    scores = model.score_all(sequences())
    assert scores.shape == (2, NUM_ITEMS + 1)
    data = SeqRecData(
        name="toy",
        user_ids=["a", "b"],
        sequences=[np.array([3, 7, 1, 9, 4, 5, 6]), np.array([2, 5, 6, 8, 10, 11, 12, 13, 14, 15])],
        num_items=NUM_ITEMS,
    )
    train = data.train_sequences()
    batch = TrainBatch(user_index=torch.tensor([0, 1]), sequence=pad_left(train, MAXLEN + 1))
    loss, encoded = model.training_loss(batch, NegativeSampler(data), np.random.default_rng(0))
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert len(encoded.hidden_states) == 2 and encoded.last.shape == (2, MAXLEN, 16)
    loss.backward()
    assert model.item_emb.weight.grad is not None


def test_bert4rec_masks_at_least_one_item_per_sequence() -> None:
    model = make(BERT4Rec, BERT4RecConfig, mask_prob=0.01)
    seen = {}

    def spy(input_ids):
        seen["inputs"] = input_ids
        return BERT4Rec.encode(model, input_ids)

    model.encode = spy
    batch = TrainBatch(
        user_index=torch.tensor([0, 1]), sequence=pad_left([np.arange(1, 6), np.arange(3, 12)], MAXLEN + 1)
    )
    model.training_loss(batch, None, np.random.default_rng(0))
    assert ((seen["inputs"] == model.mask_token).sum(dim=1) >= 1).all()


def test_registry_fails_loudly() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_recommender("sasrec")(SASRec)
    with pytest.raises(ConfigError, match="unknown recommender 'gru4rec'.*known: bert4rec, sasrec"):
        get_recommender("gru4rec")
    with pytest.raises(TypeError, match="config_class"):
        register_recommender("nothing")(type("Nothing", (), {}))
