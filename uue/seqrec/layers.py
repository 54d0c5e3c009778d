"""Pieces shared by the sequential recommenders: masks, one transformer block, the model contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from uue.seqrec.config import ModelConfig
from uue.seqrec.data import PAD, NegativeSampler, TrainBatch


def causal_mask(length: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """[L, L] bool, True where query t may attend key s (s <= t)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def attention_mask(input_ids: torch.Tensor, causal: bool) -> torch.Tensor:
    """input_ids [B, L] -> [B, 1, L, L] bool, True where a query may attend a key.

    Padding keys are never attended. Every position may attend itself, so the rows of (left) padding
    queries are not all-False (softmax over nothing is NaN); their outputs are zeroed by the caller.
    """
    length = input_ids.shape[1]
    allowed = (input_ids != PAD)[:, None, None, :]  # [B, 1, 1, L] keys that are items
    if causal:
        allowed = allowed & causal_mask(length, input_ids.device)  # [B, 1, L, L]
    diagonal = torch.eye(length, dtype=torch.bool, device=input_ids.device)  # [L, L]
    return allowed | diagonal  # [B, 1, L, L]


class TransformerBlock(nn.Module):
    """Multi-head self-attention + position-wise feed-forward, pre-norm (SASRec) or post-norm (BERT)."""

    def __init__(
        self, hidden: int, ffn_hidden: int, heads: int, dropout: float, activation: str, norm_first: bool
    ):
        super().__init__()
        self.heads, self.dropout, self.norm_first = heads, dropout, norm_first
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.ffn = nn.Sequential(
            nn.Linear(hidden, ffn_hidden),
            nn.GELU() if activation == "gelu" else nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(ffn_hidden, hidden),
        )
        self.norm_attn, self.norm_ffn = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)

    def attention(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        q, k, v = self.qkv(x).split(hidden, dim=-1)  # 3 x [B, L, D]
        q, k, v = (
            t.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)  # [B, H, L, D/H]
            for t in (q, k, v)
        )
        dropout = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout)  # [B, H, L, D/H]
        y = y.transpose(1, 2).reshape(batch, length, hidden)  # [B, L, D]
        return self.attn_out(y)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """x [B, L, D], allowed [B, 1, L, L] -> [B, L, D]."""
        if self.norm_first:
            x = x + self.drop(self.attention(self.norm_attn(x), allowed))
            return x + self.drop(self.ffn(self.norm_ffn(x)))
        x = self.norm_attn(x + self.drop(self.attention(x, allowed)))
        return self.norm_ffn(x + self.drop(self.ffn(x)))


@dataclass
class Encoded:
    """Output of `SeqRecommender.encode`."""

    hidden_states: list[torch.Tensor]  # num_blocks x [B, L, D]: output of each block (last one final-normed)
    item_mask: torch.Tensor  # [B, L] bool, True at real (non-padding) positions

    @property
    def last(self) -> torch.Tensor:
        return self.hidden_states[-1]


class SeqRecommender(nn.Module):
    """Contract of a registered recommender.

    Item ids: 0 is padding, 1..num_items are items. `score_all` returns [B, num_items + 1] scores;
    column 0 is padding and is excluded by the evaluator.
    """

    config_class: ClassVar[type[ModelConfig]]
    registry_name: ClassVar[str]

    def __init__(self, config: ModelConfig, num_items: int):
        super().__init__()
        self.config, self.num_items = config, num_items

    def encode(self, input_ids: torch.Tensor) -> Encoded:
        """input_ids [B, L] -> hidden states of every layer."""
        raise NotImplementedError

    def training_loss(
        self, batch: TrainBatch, sampler: NegativeSampler, rng: np.random.Generator
    ) -> tuple[torch.Tensor, Encoded]:
        """Recommendation loss of one batch and the encoding it came from (for distillation)."""
        raise NotImplementedError

    def score_all(self, history: torch.Tensor) -> torch.Tensor:
        """history [B, maxlen] left-padded -> scores [B, num_items + 1] for the next item."""
        raise NotImplementedError

    def init_weights(self) -> None:
        """Truncated-normal(initializer_range) for linear/embedding weights, zero biases, unit LayerNorm."""
        std = self.config.initializer_range
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
