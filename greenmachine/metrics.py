"""Rank agreement between proxy scores and benchmark accuracies: tau, rho, top-k precision, and the
ceiling that two disagreeing targets put on the tau of any one ranking.

Kendall tau-b is what the GP calls thousands of times a second, so `KendallTau` does the work that
depends only on the target once and ranks many score vectors at a time. Its discordant-pair count
is an O(N^1.5) block decomposition made of about thirty whole-array numpy calls, with no Python
loop over archs or merge levels: about 100 us per score vector at N = 1000 where
`scipy.stats.kendalltau` takes about 250 us (2-core CPU; experiments/bench_gp_eval.py). Above
SCIPY_ABOVE archs scipy's compiled merge sort wins, and is used.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats
import torch

ArrayLike = np.ndarray | torch.Tensor | list[float]
SCIPY_ABOVE = 2500  # archs; measured crossover of the block decomposition and scipy


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


def _count_true(flags: np.ndarray) -> np.ndarray:
    """Return the number of True entries per row of a bool array [R, ...] whose row size is a multiple of 8."""
    rows = flags.reshape(flags.shape[0], -1).view(np.uint64)
    return np.bitwise_count(rows).sum(axis=1, dtype=np.int64)


class KendallTau:
    """Kendall tau-b of score vectors against one target, equal to `scipy.stats.kendalltau`.

    Args:
        target: the values scores should rank alike, float [N], finite, N >= 2.
    """

    def __init__(self, target: ArrayLike):
        y = _as_float64(target)
        if y.ndim != 1 or y.shape[0] < 2 or not np.isfinite(y).all():
            raise ValueError(f"target must be a finite vector of at least 2 values, got shape {y.shape}")
        n = self.n = int(y.shape[0])
        self._target = y
        self._y_order = np.argsort(y, kind="stable")
        ys = y[self._y_order]
        # dense rank of the target, listed in target order (non-decreasing)
        self._y_rank = np.concatenate([[0], np.cumsum(ys[1:] != ys[:-1])]).astype(np.int64)
        self._target_ties = int(_tied_pairs((ys[1:] == ys[:-1])[None])[0])
        # blocks of 8k positions (and of as many values) keep _count_true's uint64 view exact
        self._block = 8 * max(1, math.ceil(math.sqrt(n) / 8))
        self._blocks = -(-n // self._block)
        padded = self._blocks * self._block
        small = np.int16 if padded <= np.iinfo(np.int16).max else np.int32  # narrower compares are faster
        self._pad = np.arange(n, padded, dtype=small)
        self._upper = np.triu(np.ones((self._block, self._block), dtype=bool), 1)
        self._index = np.arange(n, dtype=np.int64)
        self._small = self._index.astype(small)

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
        if n > SCIPY_ABOVE:
            tau = np.full(rows, np.nan)
            for r in np.flatnonzero(finite & (x.max(axis=1) > x.min(axis=1))):
                tau[r] = scipy.stats.kendalltau(x[r], self._target).statistic
            return tau
        x = np.where(finite[:, None], x, 0.0)[:, self._y_order] + 0.0  # + 0.0 turns -0.0 into 0.0
        # dense rank of x, then order by (x, target): argsort of one int key beats a stable float sort
        order = np.argsort(x, axis=1)
        xs = np.take_along_axis(x, order, 1)
        x_ties = xs[:, 1:] == xs[:, :-1]
        rank_sorted = np.zeros((rows, n), dtype=np.int64)
        np.cumsum(~x_ties, axis=1, out=rank_sorted[:, 1:])
        x_rank = np.empty_like(rank_sorted)
        np.put_along_axis(x_rank, order, rank_sorted, 1)
        order = np.argsort(x_rank * n + self._index, axis=1)
        y_in_x_order = self._y_rank[order]
        tied_x = _tied_pairs(x_ties)
        tied_both = _tied_pairs(x_ties & (y_in_x_order[:, 1:] == y_in_x_order[:, :-1]))
        discordant = self._inversions(y_in_x_order)
        n0 = n * (n - 1) // 2
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = ((n0 - tied_x - self._target_ties + tied_both - 2 * discordant)
                   / np.sqrt((n0 - tied_x).astype(np.float64) * (n0 - self._target_ties)))
        return np.where(finite, tau, np.nan)

    def _inversions(self, values: np.ndarray) -> np.ndarray:
        """Return, per row of `values` (int [R, N]), the number of pairs i < j with values[i] > values[j], int64 [R].

        Ties are made strictly increasing by position (they are not inversions), which turns each row
        into a permutation p. Positions and values are cut into blocks of B. Pairs in one position
        block are compared directly; pairs in one value block are compared by position block in the
        inverse permutation (so pairs already counted, in one position block, compare equal); pairs
        in different blocks of both kinds are counted from a (position block, value block) histogram.
        """
        rows, n = values.shape
        size, blocks = self._block, self._blocks
        inverse = np.argsort(values * n + self._index, axis=1)  # positions in value order
        perm = np.empty((rows, n), dtype=self._small.dtype)
        np.put_along_axis(perm, inverse, np.broadcast_to(self._small, (rows, n)), 1)
        pad = np.broadcast_to(self._pad, (rows, self._pad.shape[0]))
        p = np.concatenate([perm, pad], axis=1).reshape(rows, blocks, size)
        q = np.concatenate([inverse.astype(self._small.dtype), pad], axis=1).reshape(rows, blocks, size) // size
        same_position = (p[:, :, :, None] > p[:, :, None, :]) & self._upper
        same_value = (q[:, :, :, None] > q[:, :, None, :]) & self._upper
        cells = (np.arange(rows * blocks).reshape(rows, blocks, 1) * blocks + p // size).ravel()
        hist = np.bincount(cells, minlength=rows * blocks * blocks).reshape(rows, blocks, blocks)
        # earlier[r, P, V] = elements in position blocks < P and value blocks > V
        earlier = np.cumsum(hist, axis=1) - hist
        earlier = np.cumsum(earlier[:, :, ::-1], axis=2)[:, :, ::-1] - earlier
        return _count_true(same_position) + _count_true(same_value) + (hist * earlier).sum(axis=(1, 2))


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
