"""Honest numbers: how well scores rank archs (Kendall, Spearman, top-10 % precision) and rankings by tau.

A tau that is undefined (constant or non-finite scores) ranks last and shows as UNRANKED.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from greenmachine.finite import finite_in_order
from greenmachine.metrics import kendall, precision_at_top, spearman

T = TypeVar("T")
UNRANKED = "n/a (constant or non-finite scores)"
"""How a table shows an undefined (NaN) tau: the proxy gave every arch the same score, or none a finite one."""


@dataclass(frozen=True)
class Correlation:
    """How well scores rank archs: Kendall tau, Spearman rho, precision of the top 10 %, over n archs."""

    kendall: float
    spearman: float
    top10: float
    n: int


def correlation(scores: np.ndarray | torch.Tensor, accuracy: np.ndarray) -> Correlation:
    """Return the Correlation of `scores` with `accuracy` (infinities in order, failures ranked last: `finite_in_order`).

    Scores that rank nothing (constant, or no finite one) have NaN tau, rho and top-10 % precision.
    """
    s = finite_in_order(float64_scores(scores))
    top10 = precision_at_top(s, accuracy, 0.1) if len(s) and s.max() > s.min() else math.nan
    return Correlation(kendall(s, accuracy), spearman(s, accuracy), top10, len(s))


def float64_scores(scores: np.ndarray | torch.Tensor) -> np.ndarray:
    """Return scores (an array or a tensor on any device) as a float64 array."""
    return np.asarray(scores.detach().cpu() if isinstance(scores, torch.Tensor) else scores, dtype=np.float64)


def _tau_key(tau: float) -> tuple[bool, float]:
    undefined = math.isnan(tau)
    return undefined, 0.0 if undefined else -tau


def rank_by_tau(items: Iterable[T], tau: Callable[[T], float]) -> list[T]:
    """Return `items` ranked by `tau(item)`, best first; items whose tau is NaN come last, in their given order.

    Every ranking by tau (league tables, bar charts, reports, the best baseline) goes through here:
    a NaN compares false with everything, so a plain sort by tau scrambles the whole order.
    """
    return sorted(items, key=lambda item: _tau_key(float(tau(item))))


def best_by_tau(items: Iterable[T], tau: Callable[[T], float]) -> T | None:
    """Return the item with the best defined (non-NaN) `tau(item)`, or None when no item has one."""
    ranked = rank_by_tau(items, tau)
    return ranked[0] if ranked and not math.isnan(float(tau(ranked[0]))) else None


def format_tau(value: float, digits: int = 3) -> str:
    """Return a tau (or rho, precision) for a table: `digits` decimals, or UNRANKED for NaN."""
    return UNRANKED if math.isnan(value) else f"{value:.{digits}f}"


