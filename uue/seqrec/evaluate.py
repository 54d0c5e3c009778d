"""Evaluation of sequential recommenders: full ranking first, sampled protocols beside it for the papers.

Protocols (`parse_protocol`):

* `full` - rank the target against every item id 1..num_items. Padding (id 0) is never ranked. As in
  S3-Rec's full-ranking code, the user's history items (everything before the target: for the test
  split the training items and the validation item) are removed from the ranking; the target itself
  is never removed (no dataset here repeats its target in the history).
* `random<N>` - the target against N negatives drawn uniformly from the items the user never
  interacted with (whole sequence, test item included), without replacement. `random99` is the S3-Rec
  paper's "99 negatives" (100 candidates, the published Beauty/LastFM numbers); `random100` is the
  SASRec paper's protocol (101 candidates).
* `popular<N>` - as `random<N>` but negatives drawn with probability proportional to their number of
  interactions in the whole file (BERT4Rec paper: `popular100`, 101 candidates).

Negatives are drawn once per (dataset, split, protocol, seed), so every model meets the same ones.
Ranks are 0-based and pessimistic: an item with exactly the target's score counts as ranked above it
(an untrained model with constant scores gets HR = 0, not 1). With one target per user Recall@K equals
HR@K; both are reported under their usual names. NDCG@K = 1 / log2(rank + 2) when rank < K.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from uue.errors import ConfigError
from uue.eval.metrics import ndcg_at, per_query, recall_at, reciprocal_rank
from uue.seqrec.data import PAD, EvalSplit, SeqRecData, Split, pad_left
from uue.seqrec.layers import SeqRecommender
from uue.seqrec.protocols import Protocol, ProtocolKind, parse_protocol

DEFAULT_KS = (5, 10, 20)


def per_user_metrics(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, np.ndarray]:
    """0-based ranks of the target, one per user -> each user's HR@K, NDCG@K, Recall@K and MRR [U].

    The formulas are the bench's (`uue.eval.metrics`); Recall@K is HR@K (one relevant item per user).
    """
    metrics = {}
    for k in ks:
        metrics.update({f"HR@{k}": recall_at(k), f"NDCG@{k}": ndcg_at(k), f"Recall@{k}": recall_at(k)})
    return per_query(np.asarray(ranks), {**metrics, "MRR": reciprocal_rank})


def metrics_from_ranks(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """0-based ranks of the target, one per user -> mean HR@K, NDCG@K, Recall@K and MRR."""
    return {name: float(v.mean()) for name, v in per_user_metrics(ranks, ks).items()}


def full_ranks(scores: torch.Tensor, targets: torch.Tensor, histories: Sequence[np.ndarray]) -> torch.Tensor:
    """scores [B, num_items + 1], targets [B], one history array per row -> 0-based ranks [B].

    Padding and history items are excluded; the target is kept even if it is in the history.
    """
    scores = scores.clone()
    target_scores = scores.gather(1, targets[:, None])  # [B, 1]
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    cols = np.concatenate(histories) if len(histories) else np.zeros(0, dtype=np.int64)
    scores[torch.from_numpy(rows), torch.from_numpy(cols)] = float("-inf")
    scores[:, PAD] = float("-inf")
    scores.scatter_(1, targets[:, None], float("-inf"))  # the target is not its own competitor
    return (scores >= target_scores).sum(dim=1)  # [B], ties count against the target


def sampled_ranks(scores: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """scores [B, num_items + 1], candidates [B, 1 + N] with the target in column 0 -> ranks [B]."""
    candidate_scores = scores.gather(1, candidates)  # [B, 1 + N]
    return (candidate_scores[:, 1:] >= candidate_scores[:, :1]).sum(dim=1)  # [B]


def sample_negatives(data: SeqRecData, users: np.ndarray, protocol: Protocol, seed: int) -> np.ndarray:
    """[U, N] negatives per user, never an item of the user's whole sequence, no repeats in a row."""
    if protocol.kind is ProtocolKind.full:
        raise ValueError("the full protocol has no negatives")
    weights = np.ones(data.num_items + 1) if protocol.kind is ProtocolKind.random else data.item_counts()
    weights = weights.astype(np.float64)
    weights[PAD] = 0.0
    cdf = np.cumsum(weights)
    rng = np.random.default_rng(seed)
    n = protocol.num_negatives
    out = np.zeros((len(users), n), dtype=np.int64)
    for row, user in enumerate(users):
        seen = set(data.sequences[user].tolist())
        if int((weights > 0).sum()) - len(seen) < n:
            raise ConfigError(
                f"{data.name}: user {data.user_ids[user]} has fewer than {n} possible negatives"
            )
        chosen: dict[int, None] = {}
        while len(chosen) < n:
            draws = np.searchsorted(cdf, rng.random(2 * n) * cdf[-1], side="right")
            for item in draws.tolist():
                if item not in seen and item not in chosen:
                    chosen[item] = None
                    if len(chosen) == n:
                        break
        out[row] = list(chosen)
    return out


class SeqRecEvaluator:
    """Evaluates a SeqRecommender on one split under one protocol; negatives are fixed at construction."""

    greater_is_better = True

    def __init__(
        self,
        data: SeqRecData,
        protocol: str | Protocol = "full",
        ks: Sequence[int] = DEFAULT_KS,
        split: Split | str = Split.test,
        seed: int = 12345,
        batch_size: int = 1024,
        primary_metric: str = "NDCG@10",
    ):
        self.data, self.protocol, self.ks = data, parse_protocol(protocol), tuple(ks)
        self.split_name, self.seed, self.batch_size = Split(split), seed, batch_size
        self.primary_metric = primary_metric
        self.split: EvalSplit = data.split(self.split_name)
        self.candidates: np.ndarray | None = None
        if self.protocol.kind is not ProtocolKind.full:
            negatives = sample_negatives(data, self.split.user_index, self.protocol, seed)  # [U, N]
            self.candidates = np.concatenate([self.split.target[:, None], negatives], axis=1)  # [U, 1 + N]

    @torch.no_grad()
    def ranks(self, model: SeqRecommender) -> np.ndarray:
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        ranks = []
        for start in range(0, len(self.split.target), self.batch_size):
            stop = start + self.batch_size
            histories = self.split.history[start:stop]
            scores = model.score_all(pad_left(histories, model.config.maxlen).to(device)).float().cpu()
            if self.candidates is None:
                targets = torch.from_numpy(self.split.target[start:stop])
                ranks.append(full_ranks(scores, targets, histories))
            else:
                ranks.append(sampled_ranks(scores, torch.from_numpy(self.candidates[start:stop])))
        model.train(was_training)
        return torch.cat(ranks).numpy()

    def __call__(self, model: SeqRecommender) -> dict[str, float]:
        return metrics_from_ranks(self.ranks(model), self.ks)

    def get_config_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol.name,
            "split": self.split_name.value,
            "ks": list(self.ks),
            "seed": self.seed,
            "primary_metric": self.primary_metric,
        }


def evaluate_seqrec(
    model: SeqRecommender,
    dataset: SeqRecData,
    protocol: str | Protocol = "full",
    ks: Sequence[int] = DEFAULT_KS,
    split: Split | str = Split.test,
    seed: int = 12345,
) -> dict[str, float]:
    """HR@K, NDCG@K, Recall@K (and MRR) of `model` on `dataset` under `protocol`."""
    return SeqRecEvaluator(dataset, protocol, ks, split, seed)(model)
