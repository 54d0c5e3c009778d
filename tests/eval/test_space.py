"""Anisotropy and effective rank (uue/eval/space.py) on vectors whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from uue.eval.space import anisotropy, effective_rank, space_differences, space_figures


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_one_direction_is_fully_anisotropic_and_orthogonal_vectors_not_at_all():
    assert anisotropy(np.tile([[0.6, 0.8]], (5, 1))) == pytest.approx(1.0)
    assert anisotropy(np.eye(6)) == pytest.approx(0.0)
    # mean of the off-diagonal cosines, by brute force
    vectors = _unit(np.random.default_rng(0).normal(size=(30, 8)) + 1.0)
    cosines = vectors @ vectors.T
    assert anisotropy(vectors) == pytest.approx(cosines[~np.eye(30, dtype=bool)].mean())


def test_effective_rank_counts_the_directions_users_spread_along():
    rng = np.random.default_rng(0)
    flat = np.zeros((200, 16))
    flat[:, :3] = rng.normal(size=(200, 3))  # spread along 3 equal directions only
    assert effective_rank(flat) == pytest.approx(3.0, abs=0.2)
    assert effective_rank(rng.normal(size=(2000, 16))) > 15


def test_intervals_hold_the_estimate_and_a_model_compared_with_itself_differs_by_zero():
    vectors = _unit(np.random.default_rng(1).normal(size=(100, 12)) + 0.5)
    figures = space_figures(vectors, resamples=200)
    for estimate in figures.values():
        assert estimate.ci_low <= estimate.mean <= estimate.ci_high
    same = space_differences(vectors, vectors, resamples=50)
    assert all(e.mean == e.ci_low == e.ci_high == 0 for e in same.values())
    wider = space_differences(vectors, _unit(vectors + 5.0), resamples=200)["anisotropy"]
    assert wider.ci_high < 0  # the shifted copy is narrower: ours - theirs is below 0
