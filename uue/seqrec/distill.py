"""Profile distillation: L = a * b * MSE(H_k(S_u), T(E(P(u)))) + (1 - a) * L_rec, then L_rec alone.

* H_k(S_u): hidden states of transformer layer k over the user's (non-padding) positions, aggregated
  by `UserAggregator` (mean | exp_weight with gamma | learned attention).
* T: a learned linear projection. `down` (the seed's formula) maps the profile vector E(P(u)) to
  the model width; `up` maps H_k to the profile width instead (MSE in profile space).
* b (dynamic scaling, `scale_guide_loss`): b = sg(L_rec) / (sg(L_distil) + 1e-8), so the distillation
  term has the size a * L_rec whatever the scale of the profile vectors; off: b = 1.
* Stages: epochs are 1-based; while epoch < fine_tune_epoch the combined loss is used, from
  fine_tune_epoch on the loss is L_rec and the distillation term is not computed at all.
* Users without a profile in the file contribute only to L_rec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from uue.seqrec.config import Aggregation, DistillationConfig, ProjectionDirection
from uue.seqrec.layers import Encoded

EPS = 1e-8


class UserAggregator(nn.Module):
    """hidden [B, L, D] + item_mask [B, L] -> user vector [B, D], weights summing to 1 over real items."""

    def __init__(self, scheme: Aggregation | str, hidden: int, gamma: float = 0.1):
        super().__init__()
        self.scheme, self.gamma = Aggregation(scheme), gamma
        self.score = nn.Linear(hidden, 1) if self.scheme is Aggregation.attention else None

    def weights(self, hidden: torch.Tensor, item_mask: torch.Tensor) -> torch.Tensor:
        """-> [B, L] softmax weights, 0 on padding."""
        if self.scheme is Aggregation.mean:
            logits = torch.zeros(item_mask.shape, dtype=hidden.dtype, device=hidden.device)  # [B, L]
        elif self.scheme is Aggregation.exp_weight:
            t = item_mask.cumsum(dim=1).to(hidden.dtype)  # [B, L]: 1..m over the real items, oldest first
            logits = self.gamma * t  # [B, L]
        else:
            logits = self.score(hidden).squeeze(-1)  # [B, L, 1] -> [B, L]
        logits = logits.masked_fill(~item_mask, float("-inf"))  # [B, L]
        return torch.softmax(logits, dim=1).nan_to_num(0.0)  # an all-padding row gets weight 0

    def forward(self, hidden: torch.Tensor, item_mask: torch.Tensor) -> torch.Tensor:
        weights = self.weights(hidden, item_mask).unsqueeze(-1)  # [B, L, 1]
        return (weights * hidden).sum(dim=1)  # [B, L, D] -> [B, D]


@dataclass
class LossParts:
    total: torch.Tensor
    rec: torch.Tensor
    distill: torch.Tensor | None  # unscaled MSE; None after the stage switch or with no profiled user
    beta: float | None


class ProfileDistillationLoss(nn.Module):
    """Combines the recommender's loss with profile reconstruction; owns the aggregator and T."""

    def __init__(
        self,
        hidden: int,
        profile_dim: int,
        alpha: float = 0.4,
        scale_guide_loss: bool = True,
        weighting_scheme: Aggregation | str = Aggregation.mean,
        weight_scale: float = 0.1,
        reconstruction_layer: int = -1,
        fine_tune_epoch: int = 12,
        projection: ProjectionDirection | str = ProjectionDirection.down,
    ):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.alpha, self.scale_guide_loss = alpha, scale_guide_loss
        self.reconstruction_layer, self.fine_tune_epoch = reconstruction_layer, fine_tune_epoch
        self.projection_direction = ProjectionDirection(projection)
        self.aggregator = UserAggregator(weighting_scheme, hidden, weight_scale)
        if self.projection_direction is ProjectionDirection.down:
            self.projection = nn.Linear(profile_dim, hidden)
        else:
            self.projection = nn.Linear(hidden, profile_dim)
        self.hidden, self.profile_dim = hidden, profile_dim

    @classmethod
    def from_config(
        cls, config: DistillationConfig, hidden: int, profile_dim: int
    ) -> ProfileDistillationLoss:
        return cls(
            hidden,
            profile_dim,
            alpha=config.alpha,
            scale_guide_loss=config.scale_guide_loss,
            weighting_scheme=config.weighting_scheme,
            weight_scale=config.weight_scale,
            reconstruction_layer=config.reconstruction_layer,
            fine_tune_epoch=config.fine_tune_epoch,
            projection=config.projection,
        )

    def is_distilling(self, epoch: int) -> bool:
        return epoch < self.fine_tune_epoch

    def user_representation(self, encoded: Encoded) -> torch.Tensor:
        hidden = encoded.hidden_states[self.reconstruction_layer]  # [B, L, D] of layer k
        return self.aggregator(hidden, encoded.item_mask)  # [B, D]

    def reconstruction_loss(
        self, encoded: Encoded, profiles: torch.Tensor, has_profile: torch.Tensor
    ) -> torch.Tensor | None:
        """MSE(H_k(S_u), T(E)) over users with a profile; profiles [B, E], has_profile [B] bool."""
        if not bool(has_profile.any()):
            return None
        user = self.user_representation(encoded)[has_profile]  # [P, D]
        profiles = profiles[has_profile]  # [P, E]
        if self.projection_direction is ProjectionDirection.down:
            return F.mse_loss(user, self.projection(profiles))
        return F.mse_loss(self.projection(user), profiles)

    def forward(
        self,
        rec_loss: torch.Tensor,
        encoded: Encoded,
        profiles: torch.Tensor,
        has_profile: torch.Tensor,
        epoch: int,
    ) -> LossParts:
        if not self.is_distilling(epoch):
            return LossParts(total=rec_loss, rec=rec_loss, distill=None, beta=None)
        distill = self.reconstruction_loss(encoded, profiles, has_profile)
        if distill is None:
            return LossParts(total=(1 - self.alpha) * rec_loss, rec=rec_loss, distill=None, beta=None)
        beta = float(rec_loss.detach()) / (float(distill.detach()) + EPS) if self.scale_guide_loss else 1.0
        total = self.alpha * beta * distill + (1 - self.alpha) * rec_loss
        return LossParts(total=total, rec=rec_loss, distill=distill, beta=beta)

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "scale_guide_loss": self.scale_guide_loss,
            "weighting_scheme": self.aggregator.scheme.value,
            "weight_scale": self.aggregator.gamma,
            "reconstruction_layer": self.reconstruction_layer,
            "fine_tune_epoch": self.fine_tune_epoch,
            "projection": self.projection_direction.value,
            "hidden": self.hidden,
            "profile_dim": self.profile_dim,
        }
