"""The two towers. A *chunk encoder* maps texts to vectors (a sentence-transformers model in use, any
`nn.Module` with `forward(list[str]) -> [n, d]` in tests); the user tower encodes a user's chunks and
pools them, the item tower encodes statements."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from uue.twotower.loss import LearnedTemperature
from uue.twotower.metadata import MetadataEmbedding

TextEncoder = Callable[[list[str]], torch.Tensor]  # texts -> [n, d], differentiable


class AttentionPooling(nn.Module):
    """The mean of a user's real chunk vectors plus multi-head attention of a learned query over them;
    padded chunks are masked.

    chunks [U, C, d], mask [U, C] (True = a real chunk) -> [U, d]. The attention's output projection
    starts at zero, so an untrained model pools by the mean and training starts from the base
    encoder's user vectors (a random projection at the start cost the first scale run most of what
    the base knew: README, two-tower). `attention=False` is the ablation: the mean alone.
    """

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.1, attention: bool = True):
        super().__init__()
        self.attention = attention
        self.query = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        self.attend = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        nn.init.zeros_(self.attend.out_proj.weight)
        nn.init.zeros_(self.attend.out_proj.bias)

    def forward(self, chunks: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not bool(mask.any(dim=1).all()):
            raise ValueError("every user needs at least one chunk")
        weights = mask.float() / mask.float().sum(dim=1, keepdim=True)  # [U, C]
        mean = torch.einsum("uc,ucd->ud", weights, chunks)  # [U, d]
        if not self.attention:
            return mean
        query = self.query.expand(len(chunks), 1, -1)  # [U, 1, d]
        pooled, _ = self.attend(query, chunks, chunks, key_padding_mask=~mask, need_weights=False)
        return mean + pooled[:, 0]  # [U, d]


class TwoTower(nn.Module):
    """user_encoder / item_encoder: text encoders (the same object when the encoder is shared)."""

    def __init__(
        self,
        user_encoder: nn.Module,
        item_encoder: nn.Module,
        dim: int,
        out_dim: int | None = None,
        heads: int = 4,
        dropout: float = 0.1,
        attention: bool = True,
        temperature: float = 0.1,
        user_metadata: bool = False,
        item_metadata: bool = False,
    ):
        super().__init__()
        out_dim = out_dim or dim
        self.temperature = LearnedTemperature(temperature)
        self.user_encoder, self.item_encoder = user_encoder, item_encoder
        self.pooling = AttentionPooling(dim, heads, dropout, attention)
        # optional side information (`uue.twotower.metadata`), added before the projections
        self.user_metadata = MetadataEmbedding(dim) if user_metadata else None
        self.item_metadata = MetadataEmbedding(dim) if item_metadata else None
        self.user_projection = nn.Linear(dim, out_dim)
        self.item_projection = nn.Linear(dim, out_dim)
        if out_dim == dim:  # start at the base encoder's space: both projections the identity
            for projection in (self.user_projection, self.item_projection):
                nn.init.eye_(projection.weight)
                nn.init.zeros_(projection.bias)

    @property
    def shared(self) -> bool:
        return self.user_encoder is self.item_encoder

    def users(self, chunks: list[list[str]], metadata: Sequence[Sequence[str]] | None = None) -> torch.Tensor:
        """One list of chunk texts per user (any lengths) -> user vectors [U, out_dim]; `metadata`: each
        user's tokens (`metadata.user_tokens`), read when the model has a user metadata embedding."""
        width = max(len(c) for c in chunks)
        flat = [text for user in chunks for text in user]
        encoded = self.user_encoder(flat)  # [sum C_u, d]
        padded = encoded.new_zeros(len(chunks), width, encoded.shape[1])  # [U, C, d]
        mask = torch.zeros(len(chunks), width, dtype=torch.bool, device=encoded.device)
        start = 0
        for row, user in enumerate(chunks):
            padded[row, : len(user)] = encoded[start : start + len(user)]
            mask[row, : len(user)] = True
            start += len(user)
        pooled = self.pooling(padded, mask)
        if self.user_metadata is not None and metadata is not None:
            pooled = pooled + self.user_metadata(metadata)
        return self.user_projection(pooled)

    def items(self, statements: list[str], metadata: Sequence[Sequence[str]] | None = None) -> torch.Tensor:
        """Statements -> item vectors [n, out_dim]; `metadata` as for `users` (`metadata.item_tokens`)."""
        encoded = self.item_encoder(statements)
        if self.item_metadata is not None and metadata is not None:
            encoded = encoded + self.item_metadata(metadata)
        return self.item_projection(encoded)

    def parameter_groups(
        self, encoder_lr: float, head_lr: float, item_encoder_lr: float | None = None
    ) -> list[dict]:
        """Separate learning rates: the pretrained encoders slow (the item tower's its own when given and
        not shared), pooling, metadata, projections and temperature fast. Groups: encoders, heads[, item]."""
        user = list(self.user_encoder.parameters())
        item = [] if self.shared else list(self.item_encoder.parameters())
        split = item_encoder_lr is not None and bool(item)
        encoders = user if split else user + item
        in_encoders = {id(p) for p in user + item}
        heads = [p for p in self.parameters() if id(p) not in in_encoders]
        groups = [{"params": encoders, "lr": encoder_lr}, {"params": heads, "lr": head_lr}]
        return groups + ([{"params": item, "lr": item_encoder_lr}] if split else [])
