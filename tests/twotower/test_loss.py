"""The symmetric InfoNCE loss, the learned temperature and negative sampling, on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from uue.twotower.config import NegativeKind
from uue.twotower.loss import LearnedTemperature, sample_negatives, symmetric_info_nce


def test_the_loss_matches_a_hand_computed_value():
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # normalised inside: [0.7071, 0.7071]
    tau = torch.tensor(0.5)
    c = 1 / math.sqrt(2)
    # logits = cos / tau: user0 [2, 2c], user1 [0, 2c]; item->user is the transpose
    user_side = (-math.log(math.exp(2) / (math.exp(2) + math.exp(2 * c)))
                 - math.log(math.exp(2 * c) / (math.exp(0) + math.exp(2 * c)))) / 2  # fmt: skip
    item_side = (-math.log(math.exp(2) / (math.exp(2) + math.exp(0)))
                 - math.log(math.exp(2 * c) / (math.exp(2 * c) + math.exp(2 * c)))) / 2  # fmt: skip
    assert symmetric_info_nce(users, items, tau).item() == pytest.approx(
        (user_side + item_side) / 2, rel=1e-5
    )


def test_sampled_negatives_enter_the_user_side_only():
    users, items = torch.eye(2), torch.eye(2)
    tau = torch.tensor(1.0)
    far = -torch.eye(2)[:, None, :]  # [2, 1, 2]: the opposite of each user's positive
    near = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]])  # the other user's positive again
    plain = symmetric_info_nce(users, items, tau)
    assert symmetric_info_nce(users, items, tau, far) > plain  # one more competitor, however weak
    assert symmetric_info_nce(users, items, tau, near) > symmetric_info_nce(users, items, tau, far)


def test_the_temperature_is_learned_and_stays_in_its_clamp():
    temperature = LearnedTemperature(0.1, low=0.05, high=1.0)
    users = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD(temperature.parameters(), lr=0.5)
    start = temperature().item()
    for _ in range(50):
        optimizer.zero_grad()
        symmetric_info_nce(users, users.roll(1, 0), temperature()).backward()  # positives are unrelated
        optimizer.step()
        assert 0.05 <= temperature().item() <= 1.0
    assert temperature().item() != pytest.approx(start)


@pytest.mark.parametrize("kind", list(NegativeKind))
def test_negatives_are_never_the_users_own_statements(kind):
    generator = torch.Generator().manual_seed(1)
    scores = torch.rand(5, 12, generator=generator)
    forbidden = torch.zeros(5, 12, dtype=torch.bool)
    forbidden[torch.arange(5), torch.arange(5)] = True  # the positives
    forbidden[:, 11] = True  # a statement every user has
    chosen = sample_negatives(
        scores, forbidden, scores[torch.arange(5), torch.arange(5)], 4, kind, generator=generator
    )
    assert chosen.shape == (5, 4)
    assert not forbidden.gather(1, chosen).any()


def test_semi_hard_negatives_sit_just_below_the_positive():
    scores = torch.tensor([[0.9, 0.85, 0.95, 0.3, 0.7]])  # positive at 0: 0.9
    forbidden = torch.tensor([[True, False, False, False, False]])
    chosen = sample_negatives(scores, forbidden, torch.tensor([0.9]), 2, NegativeKind.semi_hard, margin=0.25)
    assert chosen[0].tolist() == [1, 4]  # 0.85 and 0.7 are in (0.65, 0.9); 0.95 is above the positive
    hard = sample_negatives(scores, forbidden, torch.tensor([0.9]), 1, NegativeKind.hard)
    assert hard[0].tolist() == [2]
