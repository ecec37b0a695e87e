"""Honest numbers: Kendall, Spearman and top-10 % precision of proxies on each set of archs, and plots."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from greenmachine.finite import finite_in_order
from greenmachine.metrics import kendall, precision_at_top, spearman
from greenmachine.proxies.base import PROXIES
from greenmachine.statistics.table import StatisticsTable

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
    s = finite_in_order(_float64(scores))
    top10 = precision_at_top(s, accuracy, 0.1) if len(s) and s.max() > s.min() else math.nan
    return Correlation(kendall(s, accuracy), spearman(s, accuracy), top10, len(s))


def _float64(scores: np.ndarray | torch.Tensor) -> np.ndarray:
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


def baseline_names(table: StatisticsTable) -> list[str]:
    """Return the registered proxies a search report compares against: those whose statistics are all in `table`,
    but for the ones tagged `unreported`."""
    have = set(table.layer) | set(table.scalar)
    return [name for name, proxy in PROXIES.items() if set(proxy.statistics) <= have and "unreported" not in proxy.tags]


def score_baselines(table: StatisticsTable, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Return each baseline's scores on the table's archs (pool-relative ones ranked within the table)."""
    return {name: PROXIES[name].evaluate(table).double().cpu().numpy() for name in names}


def plot_fitness(log: Sequence[Mapping[str, float]], path: Path, reference: tuple[str, float] | None = None) -> Path:
    """Plot best and median fitness per generation to `path` (PNG) and return it.

    Generations are whole numbers on the axis. `reference` (a baseline's name and its fitness on the
    same search archs, e.g. the best baseline's) is drawn as a dashed line to beat.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    generations = [r["generation"] for r in log]
    fig = Figure(figsize=(6, 3.6))  # no pyplot: the caller's matplotlib backend and state stay as they are
    ax = fig.subplots()
    ax.plot(generations, [r["best_fitness"] for r in log], label="best", color="tab:green", marker="o", markersize=3)
    median = [r["median_fitness"] if np.isfinite(r["median_fitness"]) else np.nan for r in log]
    ax.plot(generations, median, label="median", color="tab:gray")
    if reference is not None and np.isfinite(reference[1]):
        ax.axhline(reference[1], color="tab:red", linestyle="--", linewidth=1,
                   label=f"best baseline: {reference[0]} ({reference[1]:.3f})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness (Kendall tau on the search archs)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Return each value's rank as a percentile, float64 [N] in (0, 100] (ties share their mean rank; 100 = largest)."""
    from scipy.stats import rankdata

    return rankdata(values) / len(values) * 100.0 if len(values) else np.zeros(0)


def _rank_ticks(axis, ranks: np.ndarray, values: np.ndarray, fmt: Callable[[float], str]) -> None:
    """Label a percentile-rank axis at 0, 25, 50, 75, 100 with the value of the arch ranked nearest each (if finite)."""
    quantiles = [0, 25, 50, 75, 100]
    nearest = [values[np.argmin(np.abs(ranks - q))] for q in quantiles]
    axis.set_ticks(quantiles)
    axis.set_ticklabels([f"{q}\n({fmt(v)})" if np.isfinite(v) else str(q) for q, v in zip(quantiles, nearest)],
                        fontsize=7)


def plot_scatter(scores: np.ndarray, accuracy: np.ndarray, title: str, path: Path) -> Path:
    """Plot the rank of each arch's score against the rank of its accuracy (with tau in the title) to `path` (PNG).

    Both axes are percentile ranks, labelled with the values at their quartiles: Kendall tau sees
    only ranks, and raw values would crush a proxy spanning many orders of magnitude (synflow) or
    an accuracy piled up near the top into a corner. Archs whose score is not finite (ranked last)
    are grey crosses. Returns `path`.
    """
    from matplotlib.figure import Figure

    raw = _float64(scores)
    s = finite_in_order(raw)
    c = correlation(s, accuracy)
    x, y = percentile_ranks(s), percentile_ranks(np.asarray(accuracy, dtype=np.float64))
    failed = ~np.isfinite(raw)
    fig = Figure(figsize=(5, 4.2))
    ax = fig.subplots()
    ax.scatter(x[~failed], y[~failed], s=5, alpha=0.5, color="tab:green", label="arch")
    if failed.any():
        ax.scatter(x[failed], y[failed], s=12, marker="x", color="tab:gray", label=f"non-finite score ({failed.sum()})")
        ax.legend(fontsize=7, loc="upper left")
    if len(s):
        _rank_ticks(ax.xaxis, x, raw, lambda v: f"{v:.3g}")
        _rank_ticks(ax.yaxis, y, np.asarray(accuracy, dtype=np.float64), lambda v: f"{v:.1f}%")
    ax.set_xlim(0, 101)
    ax.set_ylim(0, 101)
    ax.set_xlabel("proxy score rank, percentile (score there)", fontsize=8)
    ax.set_ylabel("accuracy rank, percentile (accuracy there)", fontsize=8)
    wrapped = "\n".join(textwrap.wrap(title, 64))  # a long formula would run off the figure
    ax.set_title(f"{wrapped}\nKendall {format_tau(c.kendall)}, Spearman {format_tau(c.spearman)}, n={c.n}", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
