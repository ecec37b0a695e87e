"""How hard GreenMachine's stratified holdouts are: what trained accuracies and our proxies reach on them.

    python experiments/stratified_reference.py [--spaces nats_tss nats_sss] [--datasets cifar10 cifar100]

For each space and dataset it draws the stratified search sample and holdout exactly as
`greenmachine search experiment=greenmachine_<tss|sss> dataset=<dataset> sampling=stratified` does,
and prints Kendall tau against the target's test accuracy on three sets (the stratified search
sample, its stratified holdout, and the fixed random 3,000-arch evaluation holdout) of:

- trained references: every other accuracy record of the benchmark (the other datasets, 12-epoch
  training, the cifar10-valid split), i.e. what training a network tells about its rank;
- the shipped proxies and lean baselines, read from the committed whole-space score tables
  (`experiments/full_space.py`), so nothing is recomputed. A pool-relative proxy (az_nas sums
  ranks within the archs scored together) is ranked there within the whole space, so it can differ
  by about 0.01 from a search report, which ranks it within the search's own archs.

Plots the stratified-holdout taus per target to `experiments/results/stratified_reference.png`,
GreenMachine's reported values dashed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from full_space import CONF, RESULTS, scores_path  # noqa: E402  (this folder's script: the same tables)
from hydra import compose, initialize_config_dir  # noqa: E402

from greenmachine.benchmark import Benchmark, SampleProtocol, load_benchmark  # noqa: E402
from greenmachine.commands import plain  # noqa: E402
from greenmachine.config import build  # noqa: E402
from greenmachine.correlations import rank_by_tau  # noqa: E402
from greenmachine.finite import finite_in_order  # noqa: E402
from greenmachine.markdown import markdown_table  # noqa: E402
from greenmachine.metrics import kendall  # noqa: E402
from greenmachine.proxies import SHIPPED  # noqa: E402
from greenmachine.spaces import get_space  # noqa: E402
from greenmachine.tasks import draw_task_sets  # noqa: E402

EXPERIMENTS = {"nats_tss": "greenmachine_tss", "nats_sss": "greenmachine_sss"}
SETS = ("search", "holdout", "evaluation")


def protocol_sets(space: str, dataset: str) -> tuple[dict[str, np.ndarray], Benchmark, tuple[str, str, int]]:
    """Return the search, holdout and evaluation archs of the protocol's stratified run, its benchmark and target.

    The sets come from the same config and the same drawing code as `greenmachine search`.
    """
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("search", overrides=[f"experiment={EXPERIMENTS[space]}", f"dataset={dataset}",
                                           "sampling=stratified"])
    bench = load_benchmark(space)
    target = bench.target(dataset, cfg.metric, cfg.epochs)
    protocol = build(SampleProtocol, plain(cfg, "sampling"), "sampling")
    sample, evaluation = draw_task_sets(bench, *target, protocol, cfg.evaluation_size)
    return {"search": sample.search, "holdout": sample.holdout, "evaluation": evaluation}, bench, target


def reference_taus(space: str, dataset: str) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Return (trained references, proxies): name -> set -> Kendall tau against the target's accuracy.

    Trained references are every benchmark record other than the target; a record missing for some
    archs is compared on the archs that have it.
    """
    sets, bench, target = protocol_sets(space, dataset)
    accuracy = bench.accuracies(*target)
    trained = {}
    for record in bench.available():
        if record == target:
            continue
        values = bench.accuracies(*record)
        name = f"{record[0]} {record[1]}, {record[2]} epochs"
        trained[name] = {s: _tau(values[archs], accuracy[archs]) for s, archs in sets.items()}
    table = pd.read_csv(scores_path(space, "all"))
    table = table[table.dataset == dataset].set_index("arch_index")
    proxies = {}
    for name in [c for c in table.columns if c != "dataset"]:
        scores = finite_in_order(table[name].to_numpy())
        by_arch = pd.Series(scores, index=table.index)
        proxies[name] = {s: kendall(by_arch.loc[archs].to_numpy(), accuracy[archs]) for s, archs in sets.items()}
    return trained, proxies


def _tau(values: np.ndarray, accuracy: np.ndarray) -> float:
    """Return Kendall tau over the archs where `values` has a record (NaN marks a missing one)."""
    kept = ~np.isnan(values)
    return kendall(values[kept], accuracy[kept])


def plot(panels: list[tuple[str, tuple[str, str], dict[str, float], dict[str, float]]], path: Path) -> None:
    """Draw one bar panel per target: stratified-holdout tau of trained references (grey), shipped proxies (orange) and
    baselines (blue), GreenMachine's reported value dashed; a negative tau is drawn as an empty bar (the table has it)."""
    columns = min(2, len(panels))
    rows_of_panels = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows_of_panels, columns, figsize=(5.2 * columns, 4.8 * rows_of_panels), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax, (title, key, trained, proxies) in zip(axes.ravel(), panels):
        rows = rank_by_tau([(v, n, "0.6") for n, v in trained.items()]  # barh draws upwards: the best on top
                           + [(v, n, "tab:orange" if n in SHIPPED else "tab:blue") for n, v in proxies.items()],
                           lambda r: r[0])[::-1]
        ax.barh(np.arange(len(rows)), [max(v, 0) for v, _, _ in rows], color=[c for _, _, c in rows])
        ax.set_yticks(np.arange(len(rows)), [n for _, n, _ in rows], fontsize=6)
        ax.axvline(get_space(key[0]).published[("GreenMachine", key[1])], color="black", linestyle="dashed", linewidth=1)
        ax.set(title=title, xlabel="Kendall tau on the stratified holdout", xlim=(0, 1))
        ax.title.set_fontsize(9)
    fig.suptitle("grey: trained accuracies; orange: shipped proxies; blue: baselines; dashed: GreenMachine reported",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", choices=list(EXPERIMENTS), default=list(EXPERIMENTS))
    parser.add_argument("--datasets", nargs="+", choices=["cifar10", "cifar100"], default=["cifar10", "cifar100"])
    args = parser.parse_args()
    table = []
    panels = []
    for space in args.spaces:
        for dataset in args.datasets:
            trained, proxies = reference_taus(space, dataset)
            rows = [(n, "trained", t) for n, t in trained.items()] + [(n, "proxy", t) for n, t in proxies.items()]
            for name, kind, taus in rank_by_tau(rows, lambda r: r[2]["holdout"]):
                table.append([space, dataset, name, kind, *(f"{taus[s]:.3f}" for s in SETS)])
            panels.append((f"{space} {dataset}", (space, dataset), {n: t["holdout"] for n, t in trained.items()},
                           {n: t["holdout"] for n, t in proxies.items()}))
    print(markdown_table(["space", "dataset", "reference", "kind", "stratified search", "stratified holdout",
                          "random evaluation"], table))
    RESULTS.mkdir(exist_ok=True)
    plot(panels, RESULTS / "stratified_reference.png")


if __name__ == "__main__":
    main()
