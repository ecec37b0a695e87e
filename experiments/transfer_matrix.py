"""Transfer matrix: Kendall tau of every proxy on every target, each cell marked searched or unseen.

    python experiments/transfer_matrix.py

Reads only the committed per-arch score tables and the benchmarks' accuracies, so it needs no
statistics. Each proxy's cell comes from the largest table of the space that has the proxy's column:
the whole space (`experiments/results/scores_<space>.csv.xz`) where it was scored there, else the
largest `scores_<space>_<N>.csv.xz` (the first N archs of the fixed random order); a cell measured
on fewer archs than its column's header shows its arch count. Writes `transfer_matrix.csv` (one row
per proxy and target), `transfer_matrix.md` (the table), `transfer_matrix.png` (the heat map) and
`transfer_goals.md` into experiments/results, and prints the tables.

A cell is *searched* when the search that found the proxy evolved on that target (its module records
the targets: `greenmachine.proxies.provenance`), else *unseen*; baselines were found by no search.
A proxy without a column in any table of a space (grasp and swap, whose passes were not run) is n/a there.

Matrix cells of different proxies may come from different tables. The goals of issue 15 compare
proxies on the same archs: `transfer_goals.md` gives, per target, gm_transfer's tau and every
baseline's on the one table that holds them all (`same_arch_goals`).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from greenmachine.benchmark import load_benchmark
from greenmachine.finite import finite_in_order
from greenmachine.markdown import markdown_table
from greenmachine.metrics import kendall
from greenmachine.proxies import DISCOVERED, NATS_CELLS, PROXIES
from greenmachine.proxies.provenance import searched_targets

RESULTS = Path(__file__).parent / "results"
TARGETS = (
    ("nats_tss", "cifar10"), ("nats_tss", "cifar100"), ("nats_tss", "ImageNet16-120"),
    ("nats_sss", "cifar10"), ("nats_sss", "cifar100"), ("nats_sss", "ImageNet16-120"),
    ("nas_bench_macro", "cifar10"), ("transnas_micro", "class_scene"), ("transnas_micro", "class_object"),
    ("nasbench101", "cifar10"),
)
SHORT = {"nats_tss": "TSS", "nats_sss": "SSS", "nas_bench_macro": "Macro", "transnas_micro": "TransNAS",
         "nasbench101": "NB101"}


@dataclass(frozen=True)
class Cell:
    """One proxy on one target: its Kendall tau (NaN: n/a), the archs it was measured on, whether it was searched."""

    proxy: str
    target: str
    kendall: float
    archs: int
    table: str
    searched: bool


def tables_of(space: str, results: Path = RESULTS) -> list[Path]:
    """Return the score tables of a space, largest first: the whole-space one if committed, then the `_<N>` ones.

    Raises FileNotFoundError naming the folder when the space has none.
    """
    whole = results / f"scores_{space}.csv.xz"
    parts = {int(m.group(1)): p for p in results.glob(f"scores_{space}_*.csv.xz")
             if (m := re.fullmatch(rf"scores_{space}_(\d+)\.csv\.xz", p.name))}
    found = ([whole] if whole.exists() else []) + [parts[n] for n in sorted(parts, reverse=True)]
    if not found:
        raise FileNotFoundError(f"no scores_{space}*.csv.xz in {results}; `python experiments/full_space.py compute "
                                f"--spaces {space}` writes it")
    return found


def proxy_rows(tables: list[pd.DataFrame]) -> list[str]:
    """Return the matrix's rows: discovered proxies (shipped, then NATS-cell), other proxies in a table, other baselines."""
    in_tables = [c for frame in tables for c in frame.columns if c not in ("arch_index", "dataset")]
    return list(dict.fromkeys([*DISCOVERED, *in_tables, *PROXIES.names()]))


def transfer_cells(results: Path = RESULTS) -> list[Cell]:
    """Return every (proxy, target) cell of the matrix, measured from the score tables in `results`."""
    tables = {space: {path.name: pd.read_csv(path) for path in tables_of(space, results)}
              for space in dict.fromkeys(s for s, _ in TARGETS)}
    cells = []
    for name in proxy_rows([frame for by_name in tables.values() for frame in by_name.values()]):
        searched = set(searched_targets(name)) if name in PROXIES.names() else set()
        for space, dataset in TARGETS:
            target = f"{space}/{dataset}"
            source, frame = next(((n, f) for n, f in tables[space].items() if name in f.columns),
                                 next(iter(tables[space].items())))
            group = frame[frame.dataset == dataset]
            tau = float("nan")
            if name in group.columns and len(group):
                accuracy = load_benchmark(space).accuracies(dataset)[group.arch_index.to_numpy()]
                tau = kendall(finite_in_order(group[name].to_numpy()), accuracy)
            cells.append(Cell(name, target, tau, len(group), source, target in searched))
    return cells


def matrix(cells: list[Cell]) -> pd.DataFrame:
    """Return Kendall tau as a proxy x target frame (rows and columns in the cells' order)."""
    frame = pd.DataFrame([(c.proxy, c.target, c.kendall) for c in cells], columns=["proxy", "target", "kendall"])
    table = frame.pivot(index="proxy", columns="target", values="kendall")
    return table.loc[list(dict.fromkeys(c.proxy for c in cells)), list(dict.fromkeys(c.target for c in cells))]


def markdown(cells: list[Cell]) -> str:
    """Return the matrix as Markdown: tau per cell (searched cells marked `S`), means over all and unseen targets."""
    targets = list(dict.fromkeys(c.target for c in cells))
    archs = {t: max((c.archs, c.table) for c in cells if c.target == t) for t in targets}  # the column's largest table
    header = ["proxy", *(f"{SHORT[t.split('/')[0]]} {t.split('/')[1]} ({archs[t][0]:,})" for t in targets),
              "mean, all targets", "mean, unseen targets"]
    rows = []
    for proxy in dict.fromkeys(c.proxy for c in cells):
        row = [c for c in cells if c.proxy == proxy]
        taus = [c.kendall for c in row]
        shown = ["n/a" if np.isnan(c.kendall) else f"{c.kendall:.3f}" + (" S" if c.searched else "")
                 + (f" ({c.archs:,} archs)" if c.archs != archs[c.target][0] else "") for c in row]
        unseen = [c.kendall for c in row if not c.searched]
        mean_all = "n/a" if any(np.isnan(taus)) else f"{np.mean(taus):.3f}"
        mean_unseen = "n/a" if any(np.isnan(unseen)) else f"{np.mean(unseen):.3f}"
        rows.append([f"{proxy} (NATS cells only)" if proxy in NATS_CELLS else proxy, *shown, mean_all, mean_unseen])
    sources = sorted({f"{c.target}: {c.table} ({c.archs:,} archs)" for c in cells if not np.isnan(c.kendall)})
    return "\n".join([markdown_table(header, rows), "", "S = searched: the search that found the proxy evolved on a sample of this target. "
                              "n/a = not in the committed tables, which hold the lean statistics only "
                              "(these proxies read labels, weight gradients or their own passes; not computed here). "
                              "NATS cells only: multiplies by a NATS graph count, not shipped for other networks.",
                              "Tables: " + "; ".join(sources)])


def same_arch_goals(proxy: str = "gm_transfer", results: Path = RESULTS) -> pd.DataFrame:
    """Return, per target, `proxy`'s Kendall tau beside the best baseline's on the same archs.

    Each target is read from the largest table of its space that has `proxy`'s column and the most
    baseline columns. Columns: target, archs, table, searched, proxy, tau, best_baseline, baseline_tau,
    margin (tau - baseline_tau), runner_up (the second-best baseline and its tau).
    """
    searched = set(searched_targets(proxy))
    rows = []
    for space, dataset in TARGETS:
        frames = [(p.name, pd.read_csv(p)) for p in tables_of(space, results)]
        frames = [(n, f) for n, f in frames if proxy in f.columns]
        name, frame = max(frames, key=lambda nf: sum(c in PROXIES.names() for c in nf[1].columns))
        group = frame[frame.dataset == dataset]
        accuracy = load_benchmark(space).accuracies(dataset)[group.arch_index.to_numpy()]
        tau = {c: kendall(finite_in_order(group[c].to_numpy()), accuracy) for c in group.columns
               if c in PROXIES.names() and "baseline" in PROXIES[c].tags or c == proxy}
        ranked = sorted((c for c in tau if c != proxy), key=lambda c: -tau[c])
        rows.append({"target": f"{space}/{dataset}", "archs": len(group), "table": name,
                     "searched": f"{space}/{dataset}" in searched, "proxy": proxy, "tau": tau[proxy],
                     "best_baseline": ranked[0], "baseline_tau": tau[ranked[0]], "margin": tau[proxy] - tau[ranked[0]],
                     "runner_up": f"{ranked[1]} {tau[ranked[1]]:.3f}"})
    return pd.DataFrame(rows)


def goals_markdown(goals: pd.DataFrame) -> str:
    """Return the same-arch goal table as Markdown (searched targets marked S)."""
    proxy = goals.proxy.iloc[0]
    rows = [[f"{SHORT[r.target.split('/')[0]]} {r.target.split('/')[1]}" + (" S" if r.searched else ""), f"{r.archs:,}",
             f"{r.tau:.3f}", f"{r.best_baseline} {r.baseline_tau:.3f}", f"{r.margin:+.3f}", r.runner_up]
            for r in goals.itertuples()]
    return markdown_table(["target", "archs", proxy, "best baseline", "margin", "second baseline"], rows)


def plot(cells: list[Cell], path: Path) -> Path:
    """Write the heat map of the matrix to `path` (searched cells outlined and marked S, n/a grey); return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    table = matrix(cells)
    table = table[table.notna().any(axis=1)]  # proxies with no measured cell (label-based) stay in the .md and .csv
    searched = {(c.proxy, c.target) for c in cells if c.searched}
    values = table.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 * values.shape[1] + 3.2, 0.42 * values.shape[0] + 2.0))
    cmap = matplotlib.colormaps["RdYlGn"].copy()
    cmap.set_bad("lightgrey")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-1, vmax=1, aspect="auto")
    for i, proxy in enumerate(table.index):
        for j, target in enumerate(table.columns):
            value = values[i, j]
            mark = (proxy, target) in searched
            text = "n/a" if np.isnan(value) else f"{value:.2f}" + (" S" if mark else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=7.5, fontweight="bold" if mark else "normal")
            if mark:
                ax.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False, edgecolor="black", linewidth=1.6))
    labels = [f"{SHORT[t.split('/')[0]]}\n{t.split('/')[1]}" for t in table.columns]
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(table.index)), table.index, fontsize=8)
    ax.set_title("Kendall tau against benchmark accuracy; outlined S = searched on that target, the rest unseen",
                 fontsize=9)
    fig.colorbar(image, label="Kendall tau", fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the score tables and outputs")
    args = parser.parse_args()
    cells = transfer_cells(args.results)
    pd.DataFrame([c.__dict__ for c in cells]).to_csv(args.results / "transfer_matrix.csv", index=False,
                                                     float_format="%.4f")
    text = markdown(cells)
    (args.results / "transfer_matrix.md").write_text(text + "\n")
    print(text)
    print(f"wrote {plot(cells, args.results / 'transfer_matrix.png')}")
    goals = goals_markdown(same_arch_goals(results=args.results))
    (args.results / "transfer_goals.md").write_text(goals + "\n")
    print(goals)


if __name__ == "__main__":
    main()
