"""BERT4Rec (Sun et al., CIKM 2019): bidirectional self-attention trained by masked-item prediction.

Training: each non-padding item is replaced by the [MASK] token with probability `mask_prob`
(re-drawn every epoch); a sequence that drew no mask gets its most recent item masked. Cross-entropy
over all items at the masked positions. Inference: the history, shifted left by one, with [MASK]
appended; the scores at that last position rank the next item.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from uue.seqrec.config import ModelConfig
from uue.seqrec.data import PAD, NegativeSampler, TrainBatch
from uue.seqrec.layers import Encoded, SeqRecommender, TransformerBlock, attention_mask
from uue.seqrec.registry import register_recommender


class BERT4RecConfig(ModelConfig):
    model_name: str = "bert4rec"
    num_heads: int = Field(2, ge=1)
    mask_prob: float = Field(
        0.2, gt=0.0, lt=1.0, description="Probability that an item is replaced by [MASK]."
    )


@register_recommender("bert4rec")
class BERT4Rec(SeqRecommender):
    config_class = BERT4RecConfig

    def __init__(self, config: BERT4RecConfig, num_items: int):
        super().__init__(config, num_items)
        hidden = config.hidden_units
        self.mask_token = num_items + 1
        self.item_emb = nn.Embedding(num_items + 2, hidden, padding_idx=PAD)  # 0 pad, 1..N items, N+1 [MASK]
        self.pos_emb = nn.Embedding(config.maxlen, hidden)
        self.emb_norm = nn.LayerNorm(hidden)
        self.emb_drop = nn.Dropout(config.dropout_rate)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                hidden, 4 * hidden, config.num_heads, config.dropout_rate, "gelu", norm_first=False
            )
            for _ in range(config.num_blocks)
        )
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.out_bias = nn.Parameter(torch.zeros(num_items + 1))
        self.init_weights()
        with torch.no_grad():
            self.item_emb.weight[PAD].zero_()

    def encode(self, input_ids: torch.Tensor) -> Encoded:
        """input_ids [B, L] left-padded (may hold [MASK]) -> block outputs; every position sees all items."""
        length = input_ids.shape[1]
        item_mask = input_ids != PAD  # [B, L]
        maxlen = self.config.maxlen
        # Positions count from the right: the most recent item is always at maxlen - 1.
        positions = torch.arange(maxlen - length, maxlen, device=input_ids.device)  # [L]
        x = self.emb_norm(self.item_emb(input_ids) + self.pos_emb(positions))  # [B, L, D]
        x = self.emb_drop(x) * item_mask.unsqueeze(-1)  # [B, L, D]
        allowed = attention_mask(input_ids, causal=False)  # [B, 1, L, L]
        hidden_states = []
        for block in self.blocks:
            x = block(x, allowed) * item_mask.unsqueeze(-1)  # [B, L, D]
            hidden_states.append(x)
        return Encoded(hidden_states=hidden_states, item_mask=item_mask)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """h [..., D] -> [..., num_items + 1] (pad column included, [MASK] column dropped)."""
        return self.head(h) @ self.item_emb.weight[: self.num_items + 1].T + self.out_bias

    def training_loss(
        self, batch: TrainBatch, sampler: NegativeSampler, rng: np.random.Generator
    ) -> tuple[torch.Tensor, Encoded]:
        sequence = batch.sequence[:, -self.config.maxlen :]  # [B, L <= maxlen]: no shifted copy needed
        real = sequence != PAD  # [B, L]
        masked = (
            torch.from_numpy(rng.random(tuple(sequence.shape)) < self.config.mask_prob).to(real.device) & real
        )
        no_mask = ~masked.any(dim=1)  # [B]
        masked[no_mask, -1] = real[no_mask, -1]  # most recent item (left padding: last column)
        inputs = sequence.masked_fill(masked, self.mask_token)  # [B, L]
        encoded = self.encode(inputs)
        logits = self.logits(encoded.last[masked])  # [M, num_items + 1] at the M masked positions
        logits[:, PAD] = float("-inf")
        return F.cross_entropy(logits, sequence[masked]), encoded

    def score_all(self, history: torch.Tensor) -> torch.Tensor:
        mask_column = torch.full_like(history[:, :1], self.mask_token)  # [B, 1]
        inputs = torch.cat([history[:, 1:], mask_column], dim=1)  # [B, maxlen]: oldest out, [MASK] in
        return self.logits(self.encode(inputs).last[:, -1])  # [B, num_items + 1]
