"""Discovered proxies and baselines over whole spaces or their first N archs: per-arch scores and correlations.

    python experiments/full_space.py compute [--spaces nats_tss nats_sss ...] [--datasets ...] [--archs all] [--label-based]
    python experiments/full_space.py check

Every built-in space can be scored (`--spaces nas_bench_macro transnas_micro nasbench101`); the
datasets default to each space's own (all but cifar10-valid).

`compute` fills the statistics cache for every arch (resumable: a killed run picks up where it
stopped), scores the discovered proxies (shipped and NATS-cell ones) and the lean baselines (with
`--label-based` also the main-pass ones: snip, zico, nwot, jacov, ...), and writes the per-arch scores to
`experiments/results/scores_<space>.csv.xz` (whole space) or `scores_<space>_<N>.csv.xz` (`--archs N`:
the fixed random N-arch evaluation holdout), columns arch_index, dataset, one per proxy; each
dataset's rows are written as soon as they are scored. `check` needs no statistics: it reads every
such table and the benchmark's accuracies, prints Kendall tau and Spearman rho of every proxy per
space and dataset beside the published anchors, and plots each table (`shipped_<table>.png`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from greenmachine import Compute, score_archs, select_archs
from greenmachine.benchmark import load_benchmark
from greenmachine.correlations import rank_by_tau
from greenmachine.files import atomic_open
from greenmachine.finite import finite_in_order
from greenmachine.markdown import markdown_table
from greenmachine.metrics import kendall, spearman
from greenmachine.proxies import DISCOVERED
from greenmachine.spaces import all_spaces, get_space

RESULTS = Path(__file__).parent / "results"
TABLE = ".csv.xz"  # xz keeps a whole space's three datasets (~100,000 rows) under 5 MB
CONF = Path(__file__).resolve().parents[1] / "conf"
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")  # the NATS datasets, in the tables' order
LEAN_BASELINES = ("meco", "meco_opt", "az_nas", "synflow", "zen", "l2_norm", "params", "flops")
# Baselines of the main pass (labels, weight and input gradients, ReLU codes): with them a table cost 0.3-6.5 s
# of statistics per arch here, so they are written only with --label-based (the transfer matrix's 500-arch tables).
LABEL_BASELINES = ("snip", "grad_norm", "fisher", "zico", "plain", "jacov", "nwot")
# Best published training-free Kendall tau over a whole space (each space's `published`, from ANCHORS.md).
TRAINING_FREE = ("VKDNW_agg", "EZNAS")


def anchor(space: str, dataset: str) -> tuple[str, float] | None:
    """Return (system, tau) of the best published training-free proxy on a target, or None."""
    published = get_space(space).published
    return next(((s, published[(s, dataset)]) for s in TRAINING_FREE if (s, dataset) in published), None)


def scores_path(space: str, archs_spec: str) -> Path:
    """Return the table of a space's per-arch scores: `scores_<space>.csv.xz` for the whole space, else `..._<N>`."""
    return RESULTS / (f"scores_{space}{TABLE}" if archs_spec == "all" else f"scores_{space}_{archs_spec}{TABLE}")


def write_dataset(path: Path, frame: pd.DataFrame) -> None:
    """Put one dataset's rows into the table at `path` (replacing its old rows), atomically.

    Columns follow `frame`; datasets follow DATASETS, whatever order they were scored in.
    """
    if path.exists():
        old = pd.read_csv(path)
        frame = pd.concat([old[old.dataset != frame.dataset.iloc[0]], frame])[frame.columns]
        order = [*DATASETS, *sorted(set(frame.dataset) - set(DATASETS))]  # other spaces' datasets: alphabetical
        frame = frame.sort_values("dataset", key=lambda d: d.map(order.index), kind="stable")
    with atomic_open(path) as f:
        frame.to_csv(f, index=False, float_format="%.7g", compression="xz")


def space_datasets(space: str) -> list[str]:
    """Return the datasets a space's tables cover: its own, without cifar10-valid (the NATS spaces' second split)."""
    return [d for d in get_space(space).dataset_names() if d != "cifar10-valid"]


def compute(spaces: list[str], datasets: list[str] | None, archs_spec: str, workers: int | None,
            label_based: bool = False) -> None:
    """Score the archs of each space and dataset with the discovered proxies and lean baselines; write the tables.

    `label_based` adds the main-pass baselines (LABEL_BASELINES). Each dataset's scores are written as
    soon as they are computed, so an interrupted run keeps them. None datasets are each space's own
    (`space_datasets`).
    """
    proxies = [*DISCOVERED, *LEAN_BASELINES, *(LABEL_BASELINES if label_based else ())]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for space in spaces:
        path = scores_path(space, archs_spec)
        for dataset in datasets or space_datasets(space):
            archs = np.sort(select_archs(space, archs_spec if archs_spec == "all" else int(archs_spec)))
            # the settings of `greenmachine cache statistics=lean` (default probe), so scores reuse its cache
            scored = score_archs(proxies, space, dataset, archs, "lean",
                                 compute=Compute(workers=workers))
            frame = pd.DataFrame({"arch_index": scored.archs, "dataset": dataset} | scored.scores)
            write_dataset(path, frame)
            print(f"{space} {dataset}: {len(scored.archs)} archs scored ({len(archs) - len(scored.archs)} dropped), "
                  f"{scored.seconds / max(1, len(scored.archs)):.2f} s/arch of recorded statistics time -> {path}")


def check() -> None:
    """Print Kendall tau and Spearman rho of every proxy in the committed score tables; plot each table."""
    rows, plots = [], []
    for path in sorted(RESULTS.glob(f"scores_*{TABLE}")):
        stem = path.name.removeprefix("scores_").removesuffix(TABLE)
        space = stem if stem in {s.name for s in all_spaces()} else stem.rsplit("_", 1)[0]  # `<space>_<N>`: a holdout
        bench = load_benchmark(space)
        frame = pd.read_csv(path)
        taus: dict[str, dict[str, float]] = {}
        sizes = {}
        for dataset, group in frame.groupby("dataset", sort=False):
            accuracy = bench.accuracies(dataset)[group.arch_index.to_numpy()]
            best = anchor(space, dataset)
            sizes[dataset] = len(group)
            for name in [c for c in group.columns if c not in ("arch_index", "dataset")]:
                scores = finite_in_order(group[name].to_numpy())
                tau = kendall(scores, accuracy)
                taus.setdefault(name, {})[dataset] = tau
                published = f"{best[0]} {best[1]:.3f}" if best else ""
                rows.append([space, dataset, len(group), name, f"{tau:.3f}", f"{spearman(scores, accuracy):.3f}",
                             published])
        plots.append(plot_taus(space, stem, taus, sizes))
    print(markdown_table(["space", "dataset", "archs", "proxy", "Kendall tau", "Spearman rho",
                          "best published training-free"], rows))
    print("\n".join(f"wrote {path}" for path in plots))


def plot_taus(space: str, stem: str, taus: dict[str, dict[str, float]], sizes: dict[str, int]) -> Path:
    """Write experiments/results/shipped_<stem>.png: Kendall tau per dataset of every proxy, anchors dashed; return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(next(iter(taus.values())))
    names = sorted(rank_by_tau(taus, lambda n: np.mean(list(taus[n].values()))), key=lambda n: n not in DISCOVERED)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        x = np.arange(len(datasets)) + (i - len(names) / 2 + 0.5) * width
        ax.bar(x, [taus[name][d] for d in datasets], width, label=name,
               color=plt.cm.tab20(i % 20), edgecolor="black" if name in DISCOVERED else "none", linewidth=0.8)
    for j, dataset in enumerate(datasets):
        if best := anchor(space, dataset):
            ax.hlines(best[1], j - 0.45, j + 0.45, colors="black", linestyles="dashed")
    ax.set_xticks(np.arange(len(datasets)), [f"{d}\n{sizes[d]:,} archs" for d in datasets])
    ax.set_ylabel("Kendall tau (benchmark accuracy)")
    lowest = min(min(v.values()) for v in taus.values())
    ax.set_ylim(min(0.0, lowest - 0.05), 1)  # a negative tau (gm_tss_cells on NAS-Bench-Macro) shows as a bar below 0
    ax.axhline(0, color="black", linewidth=0.6)
    n = get_space(space).size if stem == space else int(stem.rsplit("_", 1)[1])
    which = "whole space" if n == get_space(space).size else (
        "fixed random evaluation holdout" if n == get_space(space).evaluation_size else f"first {n:,} archs of the fixed random order")
    ax.set_title(f"{space}, {which}\ndashed = best published training-free", fontsize=9)
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    path = RESULTS / f"shipped_{stem}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("compute")
    run.add_argument("--spaces", nargs="+", default=["nats_tss", "nats_sss"])
    run.add_argument("--datasets", nargs="+", default=None, help="default: each space's own datasets")
    run.add_argument("--archs", default="all", help="all, or a count N (the first N of the fixed random order)")
    run.add_argument("--workers", type=int, default=None)
    run.add_argument("--label-based", action="store_true", help="add the main-pass baselines: " + ", ".join(LABEL_BASELINES))
    sub.add_parser("check")
    args = parser.parse_args()
    if args.command == "compute":
        compute(args.spaces, args.datasets, args.archs, args.workers, args.label_based)
    else:
        check()


if __name__ == "__main__":
    main()
