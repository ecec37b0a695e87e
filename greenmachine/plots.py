"""Figures of a run: fitness per generation, score rank against accuracy rank, a league's ranking bars.

Each draws on a matplotlib `Figure` of its own (no pyplot), so the caller's backend and pyplot state
stay as they are, and writes a PNG.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from greenmachine.correlations import correlation, float64_scores, format_tau
from greenmachine.finite import finite_in_order


def plot_fitness(log: Sequence[Mapping[str, float]], path: Path, reference: tuple[str, float] | None = None) -> Path:
    """Plot best and median fitness per generation to `path` (PNG) and return it.

    Generations are whole numbers on the axis. `reference` (a baseline's name and its fitness on the
    same search archs, e.g. the best baseline's) is drawn as a dashed line to beat.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    generations = [r["generation"] for r in log]
    fig = Figure(figsize=(6, 3.6))
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

    raw = float64_scores(scores)
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


def plot_ranking(labels: Sequence[str], taus: Sequence[float], title: str, path: Path) -> Path:
    """Plot a league's ranking as horizontal bars of Kendall tau (`labels` and `taus` bottom bar first) to `path`; return it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 0.35 * len(labels) + 1.2))
    ax = fig.subplots()
    ax.barh(labels, taus, color="tab:green")
    ax.set_xlabel("Kendall tau")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
