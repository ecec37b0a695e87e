"""How far one formula can rank several datasets of a space at once: the ceiling their disagreement sets.

    python experiments/dataset_agreement.py [--spaces nats_tss nats_sss] [--archs all holdout]

For each space and each pair of datasets it prints Kendall tau between the two datasets' test
accuracies and `shared_kendall_ceiling`, an upper bound on the smaller of the two taus that any
tie-free ranking of the archs can reach (a proxy tuned for both cannot beat it); the row "all three"
takes the smallest pairwise ceiling. Beside each ceiling, what the consensus ranking (the mean of
the datasets' accuracy ranks) reaches: the bound is nearly met. Needs only the benchmark's
accuracies; plots each space's cifar10 against cifar100 accuracy ranks to `dataset_agreement.png`.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from full_space import DATASETS, RESULTS  # noqa: E402  (this folder's script: the same datasets and results)

from greenmachine import select_archs  # noqa: E402
from greenmachine.benchmark import load_benchmark  # noqa: E402
from greenmachine.markdown import markdown_table  # noqa: E402
from greenmachine.metrics import average_ranks, kendall, shared_kendall_ceiling  # noqa: E402


def agreement_rows(accuracies: dict[str, np.ndarray]) -> list[tuple[str, float, float, list[float]]]:
    """Return (datasets, tau between them, ceiling, consensus tau per dataset) per pair and for all three.

    Args:
        accuracies: dataset name -> test accuracy over the same archs, float [N].
    """
    rows = []
    ceilings = []
    for first, second in itertools.combinations(accuracies, 2):
        ceiling = shared_kendall_ceiling(accuracies[first], accuracies[second])
        ceilings.append(ceiling)
        rows.append((f"{first} + {second}", kendall(accuracies[first], accuracies[second]), ceiling,
                     consensus_taus(accuracies, (first, second))))
    rows.append(("all three", float("nan"), min(ceilings), consensus_taus(accuracies, tuple(accuracies))))
    return rows


def consensus_taus(accuracies: dict[str, np.ndarray], datasets: tuple[str, ...]) -> list[float]:
    """Return Kendall tau of the mean accuracy rank over `datasets` against each dataset in `accuracies`."""
    consensus = sum(average_ranks(accuracies[d]) for d in datasets)
    return [kendall(consensus, acc) for acc in accuracies.values()]


def plot(panels: list[tuple[str, np.ndarray, np.ndarray]], path: Path) -> None:
    """Draw one hexbin per (title, cifar10 accuracy, cifar100 accuracy) panel, as rank percentiles."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.4), squeeze=False)
    for ax, (title, first, second) in zip(axes[0], panels):
        x, y = average_ranks(first) / len(first), average_ranks(second) / len(second)
        cells = ax.hexbin(x, y, gridsize=40, bins="log", cmap="viridis", mincnt=1)
        fig.colorbar(cells, ax=ax, label="archs")
        ax.set(title=f"{title}: tau {kendall(first, second):.3f}", xlabel="cifar10 test accuracy (rank percentile)",
               ylabel="cifar100 test accuracy (rank percentile)", xlim=(0, 1), ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["nats_tss", "nats_sss"])
    parser.add_argument("--archs", nargs="+", choices=["all", "holdout"], default=["all", "holdout"],
                        help="all and/or holdout (the fixed random 3,000-arch evaluation holdout)")
    args = parser.parse_args()
    rows = []
    panels = []
    for space in args.spaces:
        bench = load_benchmark(space)
        for spec in args.archs:
            archs = select_archs(space, spec)
            accuracies = {d: np.asarray(bench.accuracies(d), dtype=np.float64)[archs] for d in DATASETS}
            for name, tau, ceiling, reached in agreement_rows(accuracies):
                between = "" if np.isnan(tau) else f"{tau:.3f}"
                rows.append([space, f"{len(archs):,}", name, between, f"{ceiling:.3f}",
                             " / ".join(f"{r:.3f}" for r in reached)])
            if spec == "all":
                panels.append((f"{space} ({len(archs):,} archs)", accuracies["cifar10"], accuracies["cifar100"]))
    print(markdown_table(["space", "archs", "datasets", "tau between their accuracies",
                          "ceiling on the smaller tau of one ranking",
                          "consensus ranking reaches (" + " / ".join(DATASETS) + ")"], rows))
    if panels:
        RESULTS.mkdir(exist_ok=True)
        plot(panels, RESULTS / "dataset_agreement.png")


if __name__ == "__main__":
    main()
