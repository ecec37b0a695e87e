"""League tables: any mix of proxies scored on the same archs, with cost, as JSON, Markdown and plots."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from greenmachine.correlations import UNRANKED, correlation, format_tau, rank_by_tau
from greenmachine.energy import ESTIMATED
from greenmachine.files import atomic_write_text
from greenmachine.markdown import markdown_table
from greenmachine.plots import plot_ranking, plot_scatter
from greenmachine.statistics.cache import Cost


@dataclass(frozen=True)
class LeagueRow:
    """One proxy's line: how it ranks the archs and what it cost per arch."""

    proxy: str
    space: str
    dataset: str
    n_archs: int
    kendall: float
    spearman: float
    top10: float
    seconds_per_arch: float
    joules_per_arch: float | None
    energy_source: str = ESTIMATED


def league(scores: dict[str, np.ndarray], accuracy: np.ndarray, space: str, dataset: str,
           cost: dict[str, Cost]) -> list[LeagueRow]:
    """Return the league rows, best Kendall first; proxies whose tau is NaN (constant scores) last.

    Args:
        scores: proxy name -> its scores of the archs, float [N].
        accuracy: ground truth of the same archs, float [N].
        space, dataset: for the rows.
        cost: proxy name -> seconds and joules (measured or estimated) per arch of the passes it needs.
    """
    rows = []
    for name, s in scores.items():
        c = correlation(s, accuracy)
        spent = cost[name]
        joules = spent.energy_per_arch()
        rows.append(LeagueRow(name, space, dataset, len(s), c.kendall, c.spearman, c.top10, float(np.mean(spent.seconds)),
                              joules.joules if np.isfinite(joules.joules) else None, joules.source))
    return rank_by_tau(rows, lambda r: r.kendall)


def _json_row(row: LeagueRow, rank: int | None) -> dict[str, object]:
    """Return a row for league.json: its rank (None: unranked), NaN as null (strict JSON) and a note on why."""
    values = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(row).items()}
    return {"rank": rank, **values, "note": UNRANKED if rank is None else None}


def ranking_bars(rows: Sequence[LeagueRow]) -> tuple[list[str], list[float]]:
    """Return the bar chart's labels and Kendall taus, bottom bar first (barh draws upwards): the best on top.

    A proxy without a tau gets an empty bar labelled `(n/a)`, below the ranked ones.
    """
    labels = [r.proxy if math.isfinite(r.kendall) else f"{r.proxy} (n/a)" for r in rows]
    widths = [r.kendall if math.isfinite(r.kendall) else 0.0 for r in rows]
    return labels[::-1], widths[::-1]


def write_scores(scores: dict[str, np.ndarray], accuracy: np.ndarray, archs: np.ndarray, proxies: Sequence[str],
                 path: Path) -> Path:
    """Write each arch's accuracy and its score by every proxy (columns in `proxies` order) as CSV; return `path`.

    One row per arch: `arch` (its benchmark index), `accuracy`, then one column per proxy; a
    non-finite score is written as Python prints it (nan, inf, -inf).
    """
    lines = [",".join(["arch", "accuracy", *proxies])]
    for i, arch in enumerate(archs):
        lines.append(",".join([str(int(arch)), repr(float(accuracy[i])), *(repr(float(scores[p][i])) for p in proxies)]))
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def write_league(rows: Sequence[LeagueRow], scores: dict[str, np.ndarray], accuracy: np.ndarray, out: Path,
                 title: str, archs: np.ndarray) -> dict[str, Path]:
    """Write league.json, league.md, the per-arch scores (scores.csv), a ranked bar chart and a scatter plot per proxy.

    Args:
        rows: the league rows; scores: proxy name -> its scores, float [N]; accuracy: float [N];
        archs: the archs' benchmark indices, int [N]; out: the folder; title: the tables' and plots' title.
    Returns:
        file key (json, markdown, scores, ranking, scatter_<proxy>) -> its path.
    """
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "league.json", "markdown": out / "league.md", "scores": out / "scores.csv",
             "ranking": out / "ranking.png"}
    rows = rank_by_tau(rows, lambda r: r.kendall)
    write_scores(scores, accuracy, archs, [r.proxy for r in rows], files["scores"])
    ranks = [i if math.isfinite(r.kendall) else None for i, r in enumerate(rows, start=1)]
    atomic_write_text(files["json"], json.dumps([_json_row(r, rank) for r, rank in zip(rows, ranks)], indent=2,
                                                allow_nan=False))
    table = []
    for rank, r in zip(ranks, rows):
        joules = f"{r.joules_per_arch:.3g} ({r.energy_source})" if r.joules_per_arch is not None else "n/a"
        rho, top10 = ("n/a", "n/a") if rank is None else (format_tau(r.spearman), format_tau(r.top10))
        table.append([rank or "-", r.proxy, format_tau(r.kendall), rho, top10, f"{r.seconds_per_arch:.3f}", joules])
    lines = [f"# {title}", "", markdown_table(["rank", "proxy", "Kendall tau", "Spearman rho", "top-10% precision",
                                               "s/arch", "J/arch"], table),
             "", f"{rows[0].n_archs if rows else 0} archs (each arch's scores: scores.csv); s/arch is the recorded "
             "wall time of the statistics passes each proxy needs (shared passes are counted for each proxy), J/arch "
             "their energy: `measured` by the machine's energy counter, or `estimated` from CPU time and wall time "
             "with CodeCarbon's process model (docs/energy.md)."]
    if None in ranks:
        lines += ["", f"Unranked (rank -): {UNRANKED}; such a proxy gave every arch the same score, or none a "
                  "finite one, so it orders nothing."]
    atomic_write_text(files["markdown"], "\n".join(lines) + "\n")
    plot_ranking(*ranking_bars(rows), title, files["ranking"])
    for r in rows:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in r.proxy)
        files[f"scatter_{r.proxy}"] = plot_scatter(scores[r.proxy], accuracy, f"{r.proxy}: {title}",
                                                   out / f"scatter_{safe}.png")
    return files
