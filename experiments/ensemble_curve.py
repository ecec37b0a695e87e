"""Learning curve of the ensemble on the NATS spaces: Kendall tau on archs never trained on, against training archs.

    python experiments/ensemble_curve.py run [--spaces nats_tss nats_sss] [--sizes 20 100 1000 5000]
    python experiments/ensemble_curve.py plot

`run` needs no statistics: the proxy inputs are the committed per-arch score tables
`experiments/results/scores_<space>.csv.xz` (every arch, lean statistics), the graph features come from
each arch's description (`SearchSpace.graph_features`) and the accuracies from the benchmark. For every
space, dataset, training size, repeat, input set and regressor it trains on `size` random archs outside
the fixed 3,000-arch evaluation holdout (the draw `greenmachine ensemble train=<size> seed=<repeat>` makes,
so repeat 0 at 1,000 archs is that command's training set) and tests on that holdout. Rows go to
`experiments/results/ensemble_curve.csv` as they finish; a rerun skips the rows already there.
`plot` prints the mean table (Markdown) and draws `experiments/results/ensemble_curve.png`.

Input sets (INPUTS): `baselines` (the lean baselines: no learned part, nothing fitted to any accuracy),
`baselines+graph` (plus the graph features: no accuracy seen either), `baselines+graph+gm` (plus the five
shipped gm_* proxies, which greenmachine's GP searches fitted to the accuracies of up to 2,000 random
archs per space outside the evaluation holdout: they carry labels beyond the stated training size, but
none of the test archs').
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from greenmachine.benchmark import fixed_holdout, load_benchmark
from greenmachine.benchmark.sampling import SampleProtocol, draw_sample
from greenmachine.ensemble import REGRESSORS, fit_ensemble
from greenmachine.files import atomic_write_text
from greenmachine.graph import graph_feature_table
from greenmachine.markdown import markdown_table
from greenmachine.spaces import get_space

RESULTS = Path(__file__).parent / "results"
CURVE = RESULTS / "ensemble_curve.csv"
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
LEAN_BASELINES = ("meco", "meco_opt", "az_nas", "synflow", "zen", "l2_norm", "params", "flops")
SHIPPED = ("gm_tss_cells", "gm_sss", "gm_general_cells", "gm_sss_cifar10", "gm_sss_cifar100")
INPUTS = ("baselines", "baselines+graph", "baselines+graph+gm")
KEY = ["space", "dataset", "inputs", "regressor", "n_train", "seed"]
# Published Kendall tau drawn as reference lines: (system, label) per space's `published`.
REFERENCES = (("GreenFactory", "GreenFactory (published)"), ("VKDNW+ZCS+GRAF", "(VKDNW+ZCS+GRAF)_m (published)"))


def inputs_of(name: str, scores: pd.DataFrame, graph: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return the input columns of one INPUTS set: proxy name or `graph.<feature>` -> values over every arch."""
    columns = {c: scores[c].to_numpy(np.float64) for c in LEAN_BASELINES}
    if "graph" in name:
        columns.update({f"graph.{k}": v for k, v in graph.items()})
    if name.endswith("+gm"):
        columns.update({c: scores[c].to_numpy(np.float64) for c in SHIPPED})
    return columns


def run(spaces: list[str], sizes: list[int], repeats: dict[int, int], regressors: list[str], trees: int) -> None:
    """Fit every (space, dataset, size, repeat, inputs, regressor) not yet in CURVE and append its row."""
    done = pd.read_csv(CURVE) if CURVE.exists() else pd.DataFrame(columns=KEY)
    finished = set(map(tuple, done[KEY].astype(str).to_numpy()))
    for space in spaces:
        sp = get_space(space)
        table = pd.read_csv(RESULTS / f"scores_{space}.csv.xz")
        start = time.perf_counter()
        graph = graph_feature_table(sp, range(sp.size))
        print(f"{space}: {len(graph)} graph features of {sp.size} archs in {time.perf_counter() - start:.1f} s", flush=True)
        bench = load_benchmark(space)
        for dataset in DATASETS:
            target = sp.target(dataset)
            accuracy = bench.accuracies(dataset, target.metric, target.epochs)
            scores = table[table.dataset == dataset].set_index("arch_index").reindex(range(sp.size))
            test = fixed_holdout(bench, None, dataset, target.metric, target.epochs)
            for size in sizes:
                for seed in range(repeats.get(size, 1)):
                    protocol = SampleProtocol(strategy="random", n=size, holdout_n=0, dataset=dataset,
                                              metric=target.metric, epochs=target.epochs, seed=seed,
                                              exclude=tuple(int(a) for a in test))
                    train = np.sort(draw_sample(bench, protocol).search)
                    for inputs in INPUTS:
                        columns = inputs_of(inputs, scores, graph)
                        for regressor in regressors:
                            key = (space, dataset, inputs, regressor, str(size), str(seed))
                            if key in finished:
                                continue
                            start = time.perf_counter()
                            result = fit_ensemble(columns, accuracy, train, test, seed=seed, trees=trees,
                                                  regressor=regressor)
                            row = dict(zip(KEY, key), kendall=result.kendall, spearman=result.spearman,
                                       mae=result.mae, n_test=result.n_test,
                                       fit_seconds=time.perf_counter() - start)
                            row.update(n_train=size, seed=seed)
                            append(row)
                            print(f"{space} {dataset} n={size} seed={seed} {inputs} {regressor}: "
                                  f"tau {result.kendall:.4f} ({row['fit_seconds']:.1f} s)", flush=True)


def append(row: dict) -> None:
    """Add one row to CURVE, atomically (rewrite to a temporary file, then rename)."""
    frame = pd.read_csv(CURVE) if CURVE.exists() else pd.DataFrame()
    frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
    atomic_write_text(CURVE, frame.to_csv(index=False, float_format="%.6g"))


def summary() -> pd.DataFrame:
    """Return the mean and spread of Kendall tau over repeats, one row per (space, dataset, inputs, regressor, n_train)."""
    frame = pd.read_csv(CURVE)
    group = frame.groupby(["space", "dataset", "inputs", "regressor", "n_train"], sort=False)
    return group.agg(kendall=("kendall", "mean"), kendall_sd=("kendall", "std"), repeats=("kendall", "size"),
                     spearman=("spearman", "mean"), mae=("mae", "mean")).reset_index()


def plot() -> None:
    """Print the mean table as Markdown (one row per target, inputs and regressor) and draw the learning-curve PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = summary()
    sizes = sorted(table.n_train.unique())
    wide = table.pivot_table(index=["space", "dataset", "inputs", "regressor"], columns="n_train", values="kendall",
                             sort=False)
    print(markdown_table(["space", "dataset", "inputs", "regressor", *(f"{n:,}" for n in sizes)],
                         [[*key, *("" if np.isnan(row[n]) else f"{row[n]:.3f}" for n in sizes)]
                          for key, row in wide.iterrows()]))
    spaces = list(dict.fromkeys(table.space))
    fig, axes = plt.subplots(len(spaces), len(DATASETS), figsize=(5 * len(DATASETS), 4 * len(spaces)), squeeze=False,
                             sharex=True)
    styles = {"random_forest": "--", "lightgbm": "-"}
    colours = dict(zip(INPUTS, ("tab:gray", "tab:blue", "tab:red")))
    for i, space in enumerate(spaces):
        published = get_space(space).published
        for j, dataset in enumerate(DATASETS):
            ax = axes[i][j]
            part = table[(table.space == space) & (table.dataset == dataset)]
            for (inputs, regressor), curve in part.groupby(["inputs", "regressor"], sort=False):
                ax.errorbar(curve.n_train, curve.kendall, yerr=curve.kendall_sd.fillna(0), marker="o", markersize=3,
                            capsize=2, linestyle=styles.get(regressor, ":"), color=colours.get(inputs),
                            label=f"{inputs}, {regressor}")
            for (system, label), line in zip(REFERENCES, (":", "-."), strict=True):
                if (system, dataset) in published:
                    ax.axhline(published[(system, dataset)], color="black", linestyle=line, linewidth=1, label=label)
            ax.set_xscale("log")
            ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
            ax.set_ylim(0.3, 1.0)
            ax.grid(alpha=0.3)
            ax.set_title(f"{space} {dataset}")
            if i == len(spaces) - 1:
                ax.set_xlabel("training archs")
            if j == 0:
                ax.set_ylabel("Kendall tau on the 3,000 evaluation archs")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    out = RESULTS / "ensemble_curve.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["run", "plot"])
    parser.add_argument("--spaces", nargs="+", default=["nats_tss", "nats_sss"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[20, 100, 1000, 5000])
    parser.add_argument("--repeats", nargs="+", type=int, default=[3, 3, 1, 1],
                        help="repeats (seeds 0..r-1) per size, in the order of --sizes")
    parser.add_argument("--regressors", nargs="+", default=list(REGRESSORS.names()))
    parser.add_argument("--trees", type=int, default=500)
    args = parser.parse_args()
    if args.action == "run":
        if len(args.repeats) != len(args.sizes):
            parser.error(f"--repeats needs one count per size ({len(args.sizes)}), got {args.repeats}")
        run(args.spaces, args.sizes, dict(zip(args.sizes, args.repeats, strict=True)), args.regressors, args.trees)
    else:
        plot()


if __name__ == "__main__":
    main()
