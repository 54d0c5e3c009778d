"""Optional side information of the towers (seed 003): a user's platform, activity count and top
communities; a statement's broad label. Each is a bag of tokens hashed into a small embedding table
whose output projection starts at zero, so switching it on leaves an untrained model at its base."""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence

import torch
from torch import nn

from uue.datasets.records import Activity

TOP_COMMUNITIES = 5


def user_tokens(activities: Sequence[Activity]) -> tuple[str, ...]:
    """Platforms, the activity count as a power of two, and the most frequent communities."""
    platforms = sorted({a.platform for a in activities})
    count = f"activities:2^{int(math.log2(len(activities)))}" if activities else "activities:0"
    communities = Counter(a.context.community.lower() for a in activities if a.context.community)
    top = [f"community:{c}" for c, _ in communities.most_common(TOP_COMMUNITIES)]
    return (*(f"platform:{p}" for p in platforms), count, *top)


def item_tokens(broad: str) -> tuple[str, ...]:
    """A statement's broad label (training labels have one; a free-text statement has none)."""
    return (f"broad:{broad.strip().lower()}",) if broad.strip() else ()


class MetadataEmbedding(nn.Module):
    """Bags of tokens [n] -> vectors [n, dim]: the mean of hashed token embeddings, projected by a
    layer that starts at zero; an empty bag gives zeros."""

    def __init__(self, dim: int, buckets: int = 4096):
        super().__init__()
        self.buckets = buckets
        self.embedding = nn.EmbeddingBag(buckets, dim, mode="mean")
        self.out = nn.Linear(dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, bags: Sequence[Sequence[str]]) -> torch.Tensor:
        device = self.embedding.weight.device
        ids = [zlib.crc32(token.encode()) % self.buckets for bag in bags for token in bag]
        offsets = [0, *torch.tensor([len(bag) for bag in bags]).cumsum(0)[:-1].tolist()]
        pooled = self.embedding(torch.tensor(ids, dtype=torch.long, device=device),
                                torch.tensor(offsets, dtype=torch.long, device=device))  # fmt: skip
        return self.out(pooled)
