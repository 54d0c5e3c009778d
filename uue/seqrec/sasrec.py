"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the item history.

Training as in the paper: at every non-padding position t the model scores the true next item
against one uniformly sampled item the user never interacted with, binary cross-entropy on both.
Layout follows the reference PyTorch port: scaled item embedding + learned positions, pre-norm
blocks with a width-`hidden` ReLU feed-forward, a final LayerNorm, scores = h . item_embedding.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from uue.seqrec.config import ModelConfig
from uue.seqrec.data import PAD, NegativeSampler, TrainBatch
from uue.seqrec.layers import Encoded, SeqRecommender, TransformerBlock, attention_mask
from uue.seqrec.registry import register_recommender


class SASRecConfig(ModelConfig):
    model_name: str = "sasrec"


@register_recommender("sasrec")
class SASRec(SeqRecommender):
    config_class = SASRecConfig

    def __init__(self, config: SASRecConfig, num_items: int):
        super().__init__(config, num_items)
        hidden = config.hidden_units
        self.item_emb = nn.Embedding(num_items + 1, hidden, padding_idx=PAD)
        self.pos_emb = nn.Embedding(config.maxlen, hidden)
        self.emb_drop = nn.Dropout(config.dropout_rate)
        self.blocks = nn.ModuleList(
            TransformerBlock(hidden, hidden, config.num_heads, config.dropout_rate, "relu", norm_first=True)
            for _ in range(config.num_blocks)
        )
        self.final_norm = nn.LayerNorm(hidden)
        self.init_weights()
        with torch.no_grad():
            self.item_emb.weight[PAD].zero_()

    def encode(self, input_ids: torch.Tensor) -> Encoded:
        """input_ids [B, L] left-padded, L <= maxlen -> block outputs; position t sees items <= t only."""
        length = input_ids.shape[1]
        item_mask = input_ids != PAD  # [B, L]
        maxlen = self.config.maxlen
        # Positions count from the right: the most recent item is always at maxlen - 1.
        positions = torch.arange(maxlen - length, maxlen, device=input_ids.device)  # [L]
        x = self.item_emb(input_ids) * math.sqrt(self.config.hidden_units)  # [B, L, D]
        x = x + self.pos_emb(positions)  # [B, L, D] + [L, D]
        x = self.emb_drop(x) * item_mask.unsqueeze(-1)  # [B, L, D], padding rows zeroed
        allowed = attention_mask(input_ids, causal=True)  # [B, 1, L, L]
        hidden_states = []
        for index, block in enumerate(self.blocks):
            x = block(x, allowed) * item_mask.unsqueeze(-1)  # [B, L, D]
            if index == len(self.blocks) - 1:
                x = self.final_norm(x) * item_mask.unsqueeze(-1)  # [B, L, D]
            hidden_states.append(x)
        return Encoded(hidden_states=hidden_states, item_mask=item_mask)

    def training_loss(
        self, batch: TrainBatch, sampler: NegativeSampler, rng: np.random.Generator
    ) -> tuple[torch.Tensor, Encoded]:
        inputs = batch.sequence[:, :-1]  # [B, L]
        positives = batch.sequence[:, 1:]  # [B, L]: the item after each input position
        negatives = torch.from_numpy(
            sampler.sample(batch.user_index.numpy(), tuple(positives.shape[1:]), rng)
        )
        negatives = negatives.to(inputs.device)  # [B, L]
        encoded = self.encode(inputs)
        h = encoded.last  # [B, L, D]
        pos_logits = (h * self.item_emb(positives)).sum(-1)  # [B, L]
        neg_logits = (h * self.item_emb(negatives)).sum(-1)  # [B, L]
        target = positives != PAD  # [B, L] positions with a next item
        loss = F.binary_cross_entropy_with_logits(
            pos_logits[target], torch.ones_like(pos_logits[target])
        ) + F.binary_cross_entropy_with_logits(neg_logits[target], torch.zeros_like(neg_logits[target]))
        return loss, encoded

    def score_all(self, history: torch.Tensor) -> torch.Tensor:
        h = self.encode(history).last[:, -1]  # [B, D] state after the most recent item
        return h @ self.item_emb.weight.T  # [B, num_items + 1]
