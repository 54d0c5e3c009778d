"""Profile distillation: aggregation, loss composition (alpha, beta on/off), stage switch; profile files, PCA."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from uue.errors import InputError
from uue.seqrec.distill import ProfileDistillationLoss, UserAggregator
from uue.seqrec.layers import Encoded
from uue.seqrec.profiles import PCA, ProfileTable, load_profiles, reduce_profiles

HIDDEN, PROFILE_DIM = 4, 6


def encoded() -> Encoded:
    torch.manual_seed(0)
    mask = torch.tensor([[False, True, True, True], [True, True, True, True]])  # [2, 4], row 0 left-padded
    hidden = torch.randn(2, 4, HIDDEN) * mask.unsqueeze(-1)  # [2, 4, D]
    return Encoded(hidden_states=[torch.randn(2, 4, HIDDEN), hidden], item_mask=mask)


def test_mean_aggregation_ignores_padding() -> None:
    enc = encoded()
    user = UserAggregator("mean", HIDDEN)(enc.last, enc.item_mask)
    torch.testing.assert_close(user[0], enc.last[0, 1:].mean(dim=0))
    torch.testing.assert_close(user[1], enc.last[1].mean(dim=0))


def test_exp_weight_aggregation_matches_the_formula() -> None:
    enc, gamma = encoded(), 0.5
    weights = UserAggregator("exp_weight", HIDDEN, gamma).weights(enc.last, enc.item_mask)
    expected = [math.exp(gamma * t) for t in (1, 2, 3)]  # t = 1..m over real items, oldest first
    expected = torch.tensor([0.0] + [w / sum(expected) for w in expected])
    torch.testing.assert_close(weights[0], expected)
    assert weights[1, -1] > weights[1, 0]  # recent items weigh more for gamma > 0


def test_attention_aggregation_weights_are_a_distribution_over_real_items() -> None:
    enc = encoded()
    weights = UserAggregator("attention", HIDDEN).weights(enc.last, enc.item_mask)
    assert weights[0, 0] == 0
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2))


def make_loss(**kwargs) -> ProfileDistillationLoss:
    torch.manual_seed(1)
    return ProfileDistillationLoss(HIDDEN, PROFILE_DIM, **kwargs)


def test_loss_composition_without_dynamic_scaling() -> None:
    loss, enc = make_loss(alpha=0.3, scale_guide_loss=False, fine_tune_epoch=5), encoded()
    profiles, has = torch.randn(2, PROFILE_DIM), torch.tensor([True, True])
    rec = torch.tensor(2.0)
    parts = loss(rec, enc, profiles, has, epoch=1)
    user = enc.last.sum(dim=1) / enc.item_mask.sum(dim=1, keepdim=True)  # mean over real items
    expected_distill = F.mse_loss(user, loss.projection(profiles))  # MSE(H_k(S_u), T(E(P(u))))
    torch.testing.assert_close(parts.distill, expected_distill)
    assert parts.beta == 1.0
    torch.testing.assert_close(parts.total, 0.3 * expected_distill + 0.7 * rec)


def test_dynamic_scaling_balances_the_terms() -> None:
    loss, enc = make_loss(alpha=0.4, scale_guide_loss=True, fine_tune_epoch=5), encoded()
    profiles, has = torch.randn(2, PROFILE_DIM) * 100, torch.tensor([True, True])  # a badly scaled profile
    rec = torch.tensor(3.0, requires_grad=True)
    parts = loss(rec, enc, profiles, has, epoch=4)
    assert parts.beta == pytest.approx(3.0 / parts.distill.item(), rel=1e-5)
    # a * b * L_distil has the value a * L_rec: total = 0.4 * 3 + 0.6 * 3
    assert parts.total.item() == pytest.approx(3.0, rel=1e-5)
    parts.total.backward()
    assert rec.grad.item() == pytest.approx(0.6)  # b is a constant: no gradient flows through it


def test_stage_switch_drops_the_distillation_term() -> None:
    loss, enc = make_loss(alpha=0.4, fine_tune_epoch=3), encoded()
    profiles, has = torch.randn(2, PROFILE_DIM), torch.tensor([True, True])
    assert [loss.is_distilling(e) for e in (1, 2, 3, 4)] == [True, True, False, False]
    rec = torch.tensor(1.5, requires_grad=True)
    parts = loss(rec, enc, profiles, has, epoch=3)
    assert parts.distill is None and parts.beta is None
    assert parts.total is rec  # L = L_rec exactly, no (1 - a) factor
    parts.total.backward()
    assert all(p.grad is None for p in loss.parameters())  # T was not even used


def test_users_without_profiles_are_left_out_of_the_mse() -> None:
    loss, enc = make_loss(scale_guide_loss=False), encoded()
    profiles = torch.randn(2, PROFILE_DIM)
    only_second = loss(torch.tensor(1.0), enc, profiles, torch.tensor([False, True]), epoch=1).distill
    user = enc.last[1].mean(dim=0, keepdim=True)  # [1, D]
    torch.testing.assert_close(only_second, F.mse_loss(user, loss.projection(profiles[1:])))
    none = loss(torch.tensor(1.0), enc, profiles, torch.tensor([False, False]), epoch=1)
    assert none.distill is None and none.total.item() == pytest.approx(0.6)


def test_upward_projection_and_reconstruction_layer() -> None:
    loss, enc = make_loss(projection="up", reconstruction_layer=0, scale_guide_loss=False), encoded()
    profiles, has = torch.randn(2, PROFILE_DIM), torch.tensor([True, True])
    user = UserAggregator("mean", HIDDEN)(enc.hidden_states[0], enc.item_mask)
    expected = F.mse_loss(loss.projection(user), profiles)
    torch.testing.assert_close(loss(torch.tensor(1.0), enc, profiles, has, epoch=1).distill, expected)
    assert loss.get_config_dict()["projection"] == "up"


def test_profiles_json_and_parquet_roundtrip(tmp_path: Path) -> None:
    table = ProfileTable(["u1", "u2", "u3"], np.arange(12, dtype=np.float32).reshape(3, 4))
    for name in ("p.json", "p.parquet"):
        table.save(tmp_path / name)
        loaded = load_profiles(tmp_path / name)
        assert loaded.user_ids == ["u1", "u2", "u3"]
        np.testing.assert_array_equal(loaded.vectors, table.vectors)
    import pyarrow as pa
    import pyarrow.parquet as pq

    wide = {"user_id": [1, 2, 3]} | {f"d{j}": table.vectors[:, j].tolist() for j in range(4)}
    pq.write_table(pa.table(wide), tmp_path / "wide.parquet")  # one column per dimension, int ids
    wide_loaded = load_profiles(tmp_path / "wide.parquet")
    assert wide_loaded.user_ids == ["1", "2", "3"]
    np.testing.assert_array_equal(wide_loaded.vectors, table.vectors)
    vectors, has = loaded.aligned(["u3", "zz", "u1"])
    assert has.tolist() == [True, False, True]
    assert vectors[0].tolist() == [8, 9, 10, 11] and vectors[1].tolist() == [0, 0, 0, 0]


def test_shuffled_profiles_deal_the_same_vectors_to_other_users() -> None:
    table = ProfileTable([str(i) for i in range(50)], np.arange(50, dtype=np.float32)[:, None] * np.ones(3))
    shuffled = table.shuffled(seed=0)
    assert shuffled.user_ids == table.user_ids
    assert sorted(shuffled.vectors[:, 0].tolist()) == table.vectors[:, 0].tolist()  # same vectors
    assert (shuffled.vectors[:, 0] != table.vectors[:, 0]).mean() > 0.9  # mostly someone else's
    assert np.array_equal(table.shuffled(seed=0).vectors, shuffled.vectors)  # reproducible


def test_profile_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"u1": [1.0, 2.0], "u2": [1.0]}))
    with pytest.raises(InputError, match="one length"):
        load_profiles(path)
    path.write_text(json.dumps({"u1": [1.0, float("nan")]}))
    with pytest.raises(InputError, match="NaN"):
        load_profiles(path)
    path.write_text("[1, 2]")
    with pytest.raises(InputError, match="JSON object"):
        load_profiles(path)
    with pytest.raises(InputError, match="no such profile file"):
        load_profiles(tmp_path / "missing.json")


def test_pca_reduction() -> None:
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(200, 3)) * np.array([5.0, 2.0, 1.0])  # 3 directions of decreasing variance
    vectors = (latent @ rng.normal(size=(3, 16)) + 0.01 * rng.normal(size=(200, 16))).astype(np.float32)
    table = ProfileTable([str(i) for i in range(200)], vectors)
    reduced, pca = reduce_profiles(table, 3)
    assert reduced.dim == 3 and reduced.user_ids == table.user_ids
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(3), atol=1e-6)
    assert pca.explained_variance_ratio.sum() > 0.99
    variances = reduced.vectors.var(axis=0)
    assert variances[0] > variances[1] > variances[2]
    np.testing.assert_allclose(reduced.vectors.mean(axis=0), 0.0, atol=1e-4)
    from sklearn.decomposition import PCA as SklearnPCA

    reference = SklearnPCA(3).fit_transform(vectors)
    np.testing.assert_allclose(np.abs(reduced.vectors), np.abs(reference), atol=1e-3)
    assert reduce_profiles(table, None)[1] is None
    with pytest.raises(ValueError, match="PCA dim"):
        PCA.fit(vectors, 17)
