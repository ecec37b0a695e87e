"""Kendall, Spearman and top-k precision against scipy and hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from greenmachine import metrics
from greenmachine.metrics import (
    SCIPY_ABOVE,
    KendallTau,
    average_ranks,
    kendall,
    precision_at_top,
    shared_kendall_ceiling,
    spearman,
)


def _random_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.integers(2, 1200))
    target = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # 0-2 decimals: few to many ties
    if rng.random() < 0.5:
        scores = rng.integers(0, int(rng.integers(1, 40)), size=n).astype(float)  # heavy ties
    else:
        scores = rng.normal(size=n) * 10.0 ** rng.integers(-20, 20)
    return scores, target


def test_kendall_equals_scipy_on_random_data_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(150):
        scores, target = _random_pair(rng)
        expected = scipy.stats.kendalltau(scores, target).statistic
        got = kendall(scores, target)
        assert (math.isnan(expected) and math.isnan(got)) or abs(got - expected) < 1e-9


def test_kendall_batch_equals_one_at_a_time_and_accepts_tensors():
    rng = np.random.default_rng(1)
    target = np.round(rng.normal(size=300), 1)
    rows = rng.integers(0, 25, size=(7, 300)).astype(np.float32)
    tau = KendallTau(torch.as_tensor(target))
    batch = tau.batch(torch.as_tensor(rows))
    assert np.allclose(batch, [kendall(r, target) for r in rows], atol=1e-12)


def test_kendall_is_nan_for_constant_or_non_finite_scores():
    target = np.arange(10.0)
    tau = KendallTau(target)
    assert math.isnan(tau(np.ones(10)))
    for bad in (np.nan, np.inf, -np.inf):
        scores = np.arange(10.0)
        scores[3] = bad
        assert math.isnan(tau(scores))
    assert tau(np.arange(10.0)) == 1.0 and tau(-np.arange(10.0)) == -1.0


def test_kendall_treats_negative_zero_as_zero():
    assert kendall(np.array([0.0, -0.0, 1.0]), np.array([1.0, 0.0, 2.0])) == pytest.approx(
        scipy.stats.kendalltau([0.0, 0.0, 1.0], [1.0, 0.0, 2.0]).statistic)


def test_kendall_above_the_scipy_cutoff_is_scipys_and_quiet(recwarn):
    rng = np.random.default_rng(3)
    target = np.round(rng.normal(size=SCIPY_ABOVE + 1), 1)
    rows = rng.integers(0, 50, size=(3, SCIPY_ABOVE + 1)).astype(float)
    rows[1] = 7.0
    rows[2, 5] = np.inf
    got = KendallTau(target).batch(rows)
    assert got[0] == scipy.stats.kendalltau(rows[0], target).statistic
    assert math.isnan(got[1]) and math.isnan(got[2]) and not recwarn.list


def test_kendall_without_scipys_compiled_count_is_scipys_kendalltau(monkeypatch):
    rng = np.random.default_rng(4)
    target = np.round(rng.normal(size=200), 1)
    rows = rng.integers(0, 30, size=(4, 200)).astype(float)
    rows[3] = 2.0
    fast = KendallTau(target).batch(rows)
    monkeypatch.setattr(metrics, "_kendall_dis", None)
    slow = KendallTau(target).batch(rows)
    assert list(slow[:3]) == [scipy.stats.kendalltau(r, target).statistic for r in rows[:3]] and math.isnan(slow[3])
    assert np.allclose(fast, slow, equal_nan=True, rtol=0, atol=1e-12)


def test_kendall_rejects_a_bad_target():
    with pytest.raises(ValueError, match="finite vector"):
        KendallTau(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="shape"):
        KendallTau(np.arange(5.0)).batch(np.zeros((2, 4)))


def test_spearman_equals_scipy():
    rng = np.random.default_rng(2)
    for _ in range(50):
        scores, target = _random_pair(rng)
        expected = scipy.stats.spearmanr(scores, target).statistic if np.ptp(scores) > 0 else math.nan
        got = spearman(scores, target)
        assert (math.isnan(expected) and math.isnan(got)) or abs(got - expected) < 1e-9


def test_average_ranks_give_ties_their_mean_rank():
    assert average_ranks([3.0, 1.0, 3.0, 2.0]).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_precision_at_top_counts_the_truly_best_found():
    target = np.arange(20.0)  # the best 10% are rows 18 and 19
    assert precision_at_top(target, target) == 1.0
    assert precision_at_top(-target, target) == 0.0
    scores = np.zeros(20)
    scores[[19, 3]] = [5.0, 6.0]
    assert precision_at_top(scores, target, fraction=0.1) == 0.5
    with pytest.raises(ValueError, match="fraction"):
        precision_at_top(scores, target, fraction=0.0)


def _brute_force_ceiling(a: np.ndarray, b: np.ndarray) -> float:
    """The same bound from pairs counted one by one (sign products over every i < j)."""
    i, j = np.triu_indices(len(a), k=1)
    sa, sb = np.sign(a[j] - a[i]), np.sign(b[j] - b[i])
    pairs = len(i)
    norm_a = math.sqrt(pairs * np.count_nonzero(sa))
    norm_b = math.sqrt(pairs * np.count_nonzero(sb))
    return min(np.abs(w * sa / norm_a + (1 - w) * sb / norm_b).sum() for w in (0.0, 1.0, norm_a / (norm_a + norm_b)))


def test_shared_kendall_ceiling_matches_pair_counting_and_bounds_every_ranking():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(5, 300))
        a = np.round(rng.normal(size=n), int(rng.integers(0, 3)))  # with ties
        b = np.round(0.5 * a + rng.normal(size=n), int(rng.integers(0, 3)))
        ceiling = shared_kendall_ceiling(a, b)
        assert ceiling == pytest.approx(_brute_force_ceiling(a, b), abs=1e-9)
        candidates = [average_ranks(a) + average_ranks(b), a, b] + [rng.normal(size=n) for _ in range(20)]
        for scores in candidates:
            scores = scores + 1e-9 * rng.normal(size=n)  # tie-free, as the bound assumes
            assert min(kendall(scores, a), kendall(scores, b)) <= ceiling + 1e-12


def test_shared_kendall_ceiling_is_one_for_one_target_and_zero_for_opposite_targets():
    a = np.random.default_rng(4).normal(size=200)
    assert shared_kendall_ceiling(a, a) == pytest.approx(1.0)
    assert shared_kendall_ceiling(a, -a) == pytest.approx(0.0, abs=1e-12)
