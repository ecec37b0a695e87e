"""Rank agreement between proxy scores and benchmark accuracies: tau, rho, top-k precision, and the
ceiling that two disagreeing targets put on the tau of any one ranking.

Kendall tau-b is what the GP calls thousands of times a second, so `KendallTau` does the work that
depends only on the target once and ranks many score vectors at a time: one batched sort of the
scores, tie counts as whole-array numpy calls, and per score vector one call of scipy's compiled
O(N log N) discordant-pair count (`scipy.stats._stats._kendall_dis`, which `scipy.stats.kendalltau`
itself uses). About 30 us per score vector at N = 1000 where `scipy.stats.kendalltau` takes about
250 us (one thread; experiments/bench_gp_eval.py). Above SCIPY_ABOVE archs, and where a scipy
lacks that private function, each row is scipy's own `kendalltau`.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats
import torch

try:  # private, but present and unchanged from scipy 1.0 to 1.17; without it, rows go to scipy's kendalltau
    from scipy.stats._stats import _kendall_dis
except ImportError:  # pragma: no cover - depends on the installed scipy
    _kendall_dis = None

ArrayLike = np.ndarray | torch.Tensor | list[float]
SCIPY_ABOVE = 2500  # archs; above it rows are scipy's kendalltau (as before the compiled count), values unchanged


def _as_float64(values: ArrayLike) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def _tied_pairs(ties: np.ndarray) -> np.ndarray:
    """Return the number of tied pairs per row, int64 [R].

    Args:
        ties: bool [R, N-1]; ties[r, k] says sorted element k+1 equals element k of row r.
    """
    steps = np.arange(1, ties.shape[1] + 1)
    run_start = np.maximum.accumulate(np.where(ties, 0, steps), axis=1)
    # element k of a run of c equal values adds k (0-based) ties: sum_k k = c (c - 1) / 2
    return (steps - run_start).sum(axis=1)


class KendallTau:
    """Kendall tau-b of score vectors against one target, equal to `scipy.stats.kendalltau`.

    Args:
        target: the values scores should rank alike, float [N], finite, N >= 2.
    """

    def __init__(self, target: ArrayLike):
        y = _as_float64(target)
        if y.ndim != 1 or y.shape[0] < 2 or not np.isfinite(y).all():
            raise ValueError(f"target must be a finite vector of at least 2 values, got shape {y.shape}")
        self.n = int(y.shape[0])
        self._target = y
        ys = np.sort(y)
        self._target_ties = int(_tied_pairs((ys[1:] == ys[:-1])[None])[0])
        # 1-based dense rank of each target value (the compiled count needs ranks >= 1), in arch order
        self._y_rank = np.searchsorted(np.unique(y), y).astype(np.intp) + 1
        self._y_levels = int(self._y_rank.max()) + 1

    def __call__(self, scores: ArrayLike) -> float:
        """Return tau-b of `scores` (float [N]) against the target; NaN if scores are constant or not all finite."""
        return float(self.batch(_as_float64(scores)[None])[0])

    def batch(self, scores: ArrayLike) -> np.ndarray:
        """Return tau-b of each row of `scores` (float [R, N]) against the target, float64 [R].

        Rows that are constant or hold a NaN or an infinity give NaN.
        """
        x = _as_float64(scores)
        if x.ndim != 2 or x.shape[1] != self.n:
            raise ValueError(f"scores must have shape [R, {self.n}], got {x.shape}")
        rows, n = x.shape
        finite = np.isfinite(x).all(axis=1)
        if n > SCIPY_ABOVE or _kendall_dis is None:
            tau = np.full(rows, np.nan)
            for r in np.flatnonzero(finite & (x.max(axis=1) > x.min(axis=1))):
                tau[r] = scipy.stats.kendalltau(x[r], self._target).statistic
            return tau
        x = np.where(finite[:, None], x, 0.0) + 0.0  # + 0.0 turns -0.0 into 0.0
        order = np.argsort(x, axis=1)  # any order within ties: the count below treats a tie as a group
        xs = np.take_along_axis(x, order, 1)
        x_ties = xs[:, 1:] == xs[:, :-1]
        x_rank = np.zeros((rows, n), dtype=np.intp)  # dense rank of the sorted scores
        np.cumsum(~x_ties, axis=1, out=x_rank[:, 1:])
        y_rank = self._y_rank[order]
        tied_x = _tied_pairs(x_ties)
        tied_both = np.zeros(rows, dtype=np.int64)
        if self._target_ties:  # pairs tied in both: equal neighbours once sorted by (score rank, target rank)
            joint = np.sort(x_rank * self._y_levels + y_rank, axis=1)
            tied_both = _tied_pairs(joint[:, 1:] == joint[:, :-1])
        discordant = np.array([_kendall_dis(x_rank[r], y_rank[r]) for r in range(rows)], dtype=np.int64)
        n0 = n * (n - 1) // 2
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = ((n0 - tied_x - self._target_ties + tied_both - 2 * discordant)
                   / np.sqrt((n0 - tied_x).astype(np.float64) * (n0 - self._target_ties)))
        return np.where(finite, tau, np.nan)


def kendall(scores: ArrayLike, target: ArrayLike) -> float:
    """Return Kendall's tau-b between `scores` and `target` (float [N] each); NaN if either is constant."""
    return KendallTau(target)(scores)


def _tied_pair_count(*columns: np.ndarray) -> int:
    """Return how many pairs of rows are equal in every one of `columns` (float [N] each)."""
    _, counts = np.unique(np.stack(columns, axis=1), axis=0, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def shared_kendall_ceiling(first: ArrayLike, second: ArrayLike) -> float:
    """Return an upper bound on min(tau-b(s, first), tau-b(s, second)) over every tie-free score vector s.

    No proxy can rank two targets better than this at once: on a pair of archs that the two targets
    order oppositely, any ranking disagrees with one of them. For each weight w in [0, 1],
    min(x, y) <= w x + (1 - w) y, and the weighted sum is at most what a pair-by-pair choice of order
    earns; the bound is the smallest such sum (it is piecewise linear in w, so one of w = 0, 1 or its
    kink). Exact pair counts come from tau-b of the two targets and their tie counts, O(N log N).
    NaN if either target is constant.

    Args:
        first, second: two accuracy vectors over the same archs, float [N].
    """
    a, b = _as_float64(first), _as_float64(second)
    n = len(a)
    pairs = n * (n - 1) / 2
    tied_a, tied_b, tied_both = _tied_pair_count(a), _tied_pair_count(b), _tied_pair_count(a, b)
    untied = pairs - tied_a - tied_b + tied_both  # pairs ordered by both targets: concordant + discordant
    signed = kendall(a, b) * math.sqrt((pairs - tied_a) * (pairs - tied_b))  # concordant - discordant
    concordant, discordant = (untied + signed) / 2, (untied - signed) / 2
    only_a_tied, only_b_tied = tied_a - tied_both, tied_b - tied_both
    norm_a, norm_b = math.sqrt(pairs * (pairs - tied_a)), math.sqrt(pairs * (pairs - tied_b))

    def weighted(w: float) -> float:
        to_a, to_b = w / norm_a, (1 - w) / norm_b
        return concordant * (to_a + to_b) + discordant * abs(to_a - to_b) + only_b_tied * to_a + only_a_tied * to_b

    return min(weighted(w) for w in (0.0, 1.0, norm_a / (norm_a + norm_b)))


def average_ranks(values: ArrayLike) -> np.ndarray:
    """Return 1-based ranks of `values` (float [N]) with ties given their mean rank, float64 [N]."""
    x = _as_float64(values)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.concatenate([[True], xs[1:] != xs[:-1]]))
    ends = np.append(starts[1:], len(x))
    mean_rank = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 .. ends
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(scores: ArrayLike, target: ArrayLike) -> float:
    """Return Spearman's rho (Pearson correlation of average ranks) of `scores` and `target` (float [N] each)."""
    a, b = average_ranks(scores), average_ranks(target)
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0 else math.nan


def precision_at_top(scores: ArrayLike, target: ArrayLike, fraction: float = 0.1) -> float:
    """Return the fraction of the truly best `fraction` of archs found among the best-scored `fraction`.

    Args:
        scores: proxy scores, float [N] (larger = predicted better).
        target: accuracies, float [N].
        fraction: share of archs in each top set, in (0, 1]; the sets hold max(1, round(fraction N)) archs,
            ties at the cut broken by position.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    x, y = _as_float64(scores), _as_float64(target)
    k = max(1, round(fraction * len(x)))
    best_scored = np.argsort(-x, kind="stable")[:k]
    truly_best = np.argsort(-y, kind="stable")[:k]
    return len(np.intersect1d(best_scored, truly_best)) / k
