"""Full-ranking and sampled metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from uue.errors import ConfigError
from uue.seqrec.data import SeqRecData
from uue.seqrec.evaluate import (
    Protocol,
    ProtocolKind,
    SeqRecEvaluator,
    evaluate_seqrec,
    full_ranks,
    metrics_from_ranks,
    parse_protocol,
    per_user_metrics,
    sample_negatives,
    sampled_ranks,
)
from uue.seqrec.layers import SeqRecommender
from uue.seqrec.sasrec import SASRecConfig


def test_metrics_from_ranks_by_hand() -> None:
    metrics = metrics_from_ranks(np.array([0, 1, 4, 10, 25]), ks=(5, 10, 20))
    assert metrics["HR@5"] == pytest.approx(3 / 5)
    assert metrics["NDCG@5"] == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(6)) / 5)
    assert metrics["HR@10"] == pytest.approx(3 / 5)  # rank 10 is the 11th place
    assert metrics["NDCG@10"] == pytest.approx(metrics["NDCG@5"])
    assert metrics["HR@20"] == pytest.approx(4 / 5)
    assert metrics["NDCG@20"] == pytest.approx(
        (1 + 1 / math.log2(3) + 1 / math.log2(6) + 1 / math.log2(12)) / 5
    )
    assert metrics["Recall@20"] == metrics["HR@20"]
    assert metrics["MRR"] == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 11 + 1 / 26) / 5)


def test_per_user_metrics_by_hand() -> None:
    values = per_user_metrics(np.array([0, 3, 12]), ks=(10,))
    assert values["HR@10"].tolist() == [1.0, 1.0, 0.0]
    assert values["NDCG@10"] == pytest.approx([1.0, 1 / math.log2(5), 0.0])
    assert values["MRR"] == pytest.approx([1.0, 1 / 4, 1 / 13])


def test_full_ranks_mask_history_and_padding() -> None:
    #                        pad  1    2    3    4    5
    scores = torch.tensor([[9.0, 0.1, 0.5, 0.3, 0.9, 0.2], [9.0, 0.1, 0.5, 0.3, 0.9, 0.2]])
    ranks = full_ranks(scores, torch.tensor([2, 1]), [np.array([4]), np.array([2])])
    # row 0: item 4 (0.9) is history -> masked; pad never ranked -> target 2 is first.
    # row 1: target 1 (0.1) is beaten by 3, 4, 5 (2 is history).
    assert ranks.tolist() == [0, 3]
    unmasked = full_ranks(scores[:1], torch.tensor([2]), [np.array([], dtype=np.int64)])
    assert unmasked.tolist() == [1]  # only item 4 beats it; padding still excluded


def test_full_ranks_keep_a_target_that_is_in_the_history_and_count_ties_against_it() -> None:
    scores = torch.tensor([[0.0, 0.5, 0.5, 0.5]])
    assert full_ranks(scores, torch.tensor([2]), [np.array([2])]).tolist() == [2]  # ties with 1 and 3


def test_sampled_ranks() -> None:
    scores = torch.tensor([[0.0, 0.1, 0.5, 0.3, 0.9, 0.2]])
    assert sampled_ranks(scores, torch.tensor([[2, 1, 3, 5]])).tolist() == [0]
    assert sampled_ranks(scores, torch.tensor([[2, 1, 4, 5]])).tolist() == [1]
    assert sampled_ranks(scores, torch.tensor([[2, 2, 1]])).tolist() == [1]  # a tie counts against


def test_parse_protocol() -> None:
    assert parse_protocol("full") == Protocol(ProtocolKind.full)
    assert parse_protocol("random99") == Protocol(ProtocolKind.random, 99)
    assert parse_protocol("popular100").name == "popular100"
    with pytest.raises(ConfigError, match="unknown evaluation protocol"):
        parse_protocol("random")


class ScoreByItemId(SeqRecommender):
    """Stub: ignores the history, score(item) = -item id (item 1 best)."""

    config_class = SASRecConfig

    def __init__(self, num_items: int):
        super().__init__(SASRecConfig(maxlen=4), num_items)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def score_all(self, history: torch.Tensor) -> torch.Tensor:
        return -torch.arange(self.num_items + 1, dtype=torch.float32).expand(len(history), -1)  # [B, N + 1]


@pytest.fixture
def toy() -> SeqRecData:
    return SeqRecData("toy", ["a", "b"], [np.array([1, 2, 3]), np.array([4, 5, 6])], num_items=6)


@pytest.mark.parametrize("protocol", ["full", "random3", "popular3"])
def test_evaluate_by_hand(toy: SeqRecData, protocol: str) -> None:
    """Each user has exactly 3 unseen items, so every protocol ranks against the same 3 items:
    a: target 3 vs {4, 5, 6} -> rank 0; b: target 6 vs {1, 2, 3} -> rank 3."""
    metrics = evaluate_seqrec(ScoreByItemId(6), toy, protocol, ks=(1, 5))
    assert metrics["HR@1"] == pytest.approx(0.5)
    assert metrics["NDCG@1"] == pytest.approx(0.5)
    assert metrics["HR@5"] == pytest.approx(1.0)
    assert metrics["NDCG@5"] == pytest.approx((1 + 1 / math.log2(5)) / 2)


def test_valid_split_ranks_future_items_too(toy: SeqRecData) -> None:
    # a: target 2, history [1] -> 3 (the test item) is a competitor below 2 -> rank 0.
    # b: target 5, history [4] -> 1, 2, 3 beat it; 6 does not -> rank 3.
    evaluator = SeqRecEvaluator(toy, "full", ks=(1,), split="valid")
    assert evaluator.ranks(ScoreByItemId(6)).tolist() == [0, 3]
    assert evaluator.get_config_dict()["split"] == "valid"


def test_sampled_negatives_exclude_the_whole_sequence_and_repeat_nothing() -> None:
    rng = np.random.default_rng(0)
    sequences = [rng.choice(np.arange(1, 201), size=20, replace=False) for _ in range(30)]
    data = SeqRecData("rand", [str(i) for i in range(30)], sequences, num_items=200)
    for kind in ("random", "popular"):
        negatives = sample_negatives(data, np.arange(30), Protocol(ProtocolKind(kind), 99), seed=1)
        assert negatives.shape == (30, 99)
        for row, seq in zip(negatives, sequences, strict=True):
            assert len(set(row.tolist())) == 99
            assert not set(row.tolist()) & set(seq.tolist())
            assert row.min() >= 1
    again = sample_negatives(data, np.arange(30), Protocol(ProtocolKind.random, 99), seed=1)
    assert np.array_equal(
        again, sample_negatives(data, np.arange(30), Protocol(ProtocolKind.random, 99), seed=1)
    )


def test_popularity_sampling_prefers_popular_items() -> None:
    sequences = [np.array([50, 51, 52])] + [np.array([1, 2 + i, 40 + i % 5]) for i in range(30)]
    data = SeqRecData("pop", [str(i) for i in range(31)], sequences, num_items=52)
    counts = np.zeros(53)
    for seed in range(200):
        (row,) = sample_negatives(data, np.array([0]), Protocol(ProtocolKind.popular, 1), seed)
        counts[row] += 1
    # item 1: 30 interactions; item 2: 1 interaction; items never interacted with are never drawn.
    assert counts[1] > 5 * max(counts[2], 1)
    assert counts[data.item_counts() == 0].sum() == 0
