"""The towers: attention pooling ignores padded chunks, shared vs separate encoders, save -> load."""

from __future__ import annotations

import torch
from torch import nn

from uue.twotower.model import AttentionPooling, TwoTower


class HashedBagOfWords(nn.Module):
    """A tiny trainable text encoder: texts -> mean of hashed word embeddings [n, dim]."""

    def __init__(self, dim: int = 8, buckets: int = 64):
        super().__init__()
        self.buckets = buckets
        self.embedding = nn.EmbeddingBag(buckets, dim, mode="mean")

    def forward(self, texts: list[str]) -> torch.Tensor:
        ids = [[sum(map(ord, w)) % self.buckets for w in t.split()] or [0] for t in texts]
        flat = torch.tensor([i for row in ids for i in row])
        offsets = torch.tensor([0, *torch.tensor([len(r) for r in ids]).cumsum(0)[:-1].tolist()])
        return self.embedding(flat, offsets)


def _trained(pooling: AttentionPooling) -> AttentionPooling:
    """The attention's output projection away from its zero start, as after training."""
    nn.init.normal_(pooling.attend.out_proj.weight)
    return pooling


def test_attention_pooling_ignores_padded_chunks():
    torch.manual_seed(0)
    pooling = _trained(AttentionPooling(8, heads=2, dropout=0.0)).eval()
    chunks = torch.randn(2, 3, 8)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    changed = chunks.clone()
    changed[0, 2] = 100.0  # garbage in user 0's padding
    assert torch.allclose(pooling(chunks, mask), pooling(changed, mask), atol=1e-6)
    unmasked = torch.ones_like(mask)
    assert not torch.allclose(pooling(chunks, unmasked)[0], pooling(changed, unmasked)[0])  # the mask matters


def test_an_untrained_two_tower_model_is_its_base_encoder_mean_pooled():
    torch.manual_seed(0)
    encoder = HashedBagOfWords()
    model = TwoTower(encoder, encoder, dim=8, heads=2, dropout=0.0).eval()
    chunks = [["r/College · exams", "r/College · dorms"], ["r/GradSchool · thesis"]]
    with torch.no_grad():
        expected = torch.stack([encoder(user).mean(dim=0) for user in chunks])
        assert torch.allclose(model.users(chunks), expected, atol=1e-6)
        assert torch.allclose(model.items(["Thesis writing"]), encoder(["Thesis writing"]), atol=1e-6)


def test_mean_pooling_is_the_average_of_real_chunks():
    pooling = AttentionPooling(4, heads=1, attention=False)
    chunks = torch.tensor([[[1.0, 0, 0, 0], [3.0, 0, 0, 0], [50.0, 0, 0, 0]]])
    assert pooling(chunks, torch.tensor([[True, True, False]]))[0, 0].item() == 2.0


def test_users_of_different_lengths_and_shared_or_separate_encoders(tmp_path):
    torch.manual_seed(0)
    shared = HashedBagOfWords()
    model = TwoTower(shared, shared, dim=8, out_dim=6, heads=2, dropout=0.0).eval()
    assert model.shared
    users = model.users([["r/College · exams", "r/College · dorms"], ["r/GradSchool · thesis"]])
    items = model.items(["Final exams", "Thesis writing", "Dorm life"])
    assert users.shape == (2, 6) and items.shape == (3, 6)
    separate = TwoTower(HashedBagOfWords(), HashedBagOfWords(), dim=8)
    assert not separate.shared
    groups = separate.parameter_groups(encoder_lr=2e-5, head_lr=1e-3)
    assert [g["lr"] for g in groups] == [2e-5, 1e-3]
    assert any(p is separate.temperature.log_tau for p in groups[1]["params"])
    towers = separate.parameter_groups(encoder_lr=2e-5, head_lr=1e-3, item_encoder_lr=5e-5)
    assert [g["lr"] for g in towers] == [2e-5, 1e-3, 5e-5]  # each tower's encoder its own rate
    assert {id(p) for p in towers[2]["params"]} == {id(p) for p in separate.item_encoder.parameters()}
    assert {id(p) for p in towers[0]["params"]} == {id(p) for p in separate.user_encoder.parameters()}
    assert len(model.parameter_groups(2e-5, 1e-3, item_encoder_lr=5e-5)) == 2  # shared: one encoder
    every = [p for g in towers for p in g["params"]]
    assert len(every) == len({id(p) for p in every}) == len(list(separate.parameters()))

    torch.save(model.state_dict(), tmp_path / "model.pt")
    again_encoder = HashedBagOfWords()
    again = TwoTower(again_encoder, again_encoder, dim=8, out_dim=6, heads=2, dropout=0.0).eval()
    again.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    same = again.users([["r/College · exams", "r/College · dorms"], ["r/GradSchool · thesis"]])
    assert torch.allclose(users, same)
