"""Symmetric InfoNCE with a learned temperature, and the sampled negatives of the item side."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from uue.twotower.config import NegativeKind


class LearnedTemperature(nn.Module):
    """tau = exp(log_tau), clamped to [low, high]: log-parametrised so it stays positive, clamped so a
    collapsing run cannot drive it to 0 (infinite logits) or flatten the softmax."""

    def __init__(self, initial: float = 0.1, low: float = 0.01, high: float = 1.0):
        super().__init__()
        if not low <= initial <= high:
            raise ValueError(f"initial temperature {initial} outside [{low}, {high}]")
        self.log_tau = nn.Parameter(torch.tensor(math.log(initial)))
        self.low, self.high = low, high

    def forward(self) -> torch.Tensor:
        return self.log_tau.exp().clamp(self.low, self.high)


def symmetric_info_nce(
    users: torch.Tensor, items: torch.Tensor, temperature: torch.Tensor, negatives: torch.Tensor | None = None
) -> torch.Tensor:
    """users [B, d], items [B, d] (row i is user i's positive), negatives [B, K, d] or None -> scalar.

    user -> item: each user against every item of the batch plus its own K sampled negatives;
    item -> user: each item against every user of the batch. The loss is the mean of the two
    cross-entropies. Vectors are L2-normalised here, so the logits are cosines / temperature.
    """
    users, items = F.normalize(users, dim=-1), F.normalize(items, dim=-1)
    logits = users @ items.T / temperature  # [B, B]
    targets = torch.arange(len(users), device=users.device)
    user_logits = logits
    if negatives is not None and negatives.shape[1]:
        extra = torch.einsum("bd,bkd->bk", users, F.normalize(negatives, dim=-1)) / temperature  # [B, K]
        user_logits = torch.cat([logits, extra], dim=1)  # [B, B + K]
    return (F.cross_entropy(user_logits, targets) + F.cross_entropy(logits.T, targets)) / 2


def sample_negatives(
    scores: torch.Tensor,
    forbidden: torch.Tensor,
    positive_scores: torch.Tensor,
    k: int,
    kind: NegativeKind,
    margin: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Indices [B, k] into a statement pool. scores [B, P] user-statement cosines, forbidden [B, P]
    True for the user's own statements (the positive among them), positive_scores [B].

    Never returns a forbidden statement. Semi-hard takes candidates with positive - margin < score <
    positive; where fewer than k exist, the hardest others below the positive, then random ones fill.
    """
    noise = torch.rand(scores.shape, generator=generator)
    if kind is NegativeKind.random:
        key = noise
    elif kind is NegativeKind.hard:
        key = scores + 1e-6 * noise
    else:
        below = scores < positive_scores[:, None]
        window = below & (scores > positive_scores[:, None] - margin)
        # rank: semi-hard window first (hardest first), then the rest below the positive, then the others
        key = scores + 1e-6 * noise + 4.0 * window.float() + 2.0 * below.float()
    key = key.masked_fill(forbidden, float("-inf"))
    allowed = (~forbidden).sum(dim=1)
    if int(allowed.min()) < k:
        raise ValueError(
            f"a user has only {int(allowed.min())} statements that are not their own, {k} wanted"
        )
    return key.topk(k, dim=1).indices
