"""Check every baseline proxy against reference values on a fixed random sample of TSS archs.

For the first 1,000 archs of the fixed random order (cifar10, test accuracy, 200 epochs) prints a
Markdown table: our Kendall tau, NAS-Bench-Suite-Zero's (NASLib's) values' tau on the same archs
where it has them and ours on that subset, the published full-space tau (VKDNW Table 1, ANCHORS.md),
and the Spearman correlation of our per-arch values with NASLib's. Failures rank last (as NASLib's
-1e8). Needs the cache filled by

    greenmachine cache archs=1000 statistics=all

    python experiments/reference_check.py [--archs 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from greenmachine.benchmark import load_benchmark
from greenmachine.config import ProbeConfig
from greenmachine.metrics import kendall, spearman
from greenmachine.paths import data_dir
from greenmachine.proxies import PROXIES, proxy_statistics
from greenmachine.report import worst_filled
from greenmachine.statistics import StatisticsOptions
from greenmachine.workspace import make_cache, make_probe, select_archs

BASELINES = ["synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "zen", "zico", "meco", "meco_opt",
             "swap", "az_nas", "l2_norm", "params", "flops"]
# VKDNW (CVPR 2025) Table 1, cifar10 Kendall tau over all 15,625 archs (ANCHORS.md); AZ-NAS notebook for az_nas.
PUBLISHED = {"flops": 0.623, "grad_norm": 0.328, "grasp": 0.352, "snip": 0.431, "synflow": 0.561, "jacov": 0.616,
             "nwot": 0.571, "zen": 0.102, "zico": 0.607, "az_nas": 0.712}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=1000)
    args = parser.parse_args()
    archs = select_archs("nats_tss", args.archs)
    accuracy = load_benchmark("nats_tss").accuracies("cifar10")[archs]
    probe = make_probe("cifar10", ProbeConfig())
    cache = make_cache("nats_tss", "cifar10", probe, StatisticsOptions())
    table, status = cache.load(proxy_statistics(BASELINES), archs)
    naslib = pd.read_csv(data_dir() / "nats_tss" / "zc_proxies_naslib.csv.gz")
    naslib = naslib[naslib.dataset == "cifar10"].set_index("arch_index")
    shared = np.array([i for i, a in enumerate(archs) if a in naslib.index])
    print(f"nats_tss cifar10 test accuracy (200 epochs), first {len(archs)} archs of the fixed random order; "
          f"probe: {probe.origin or probe.source}, batch {probe.batch_size}, seed {probe.seed}; "
          f"{len(shared)} of them have NASLib values; {sum(s != 'ok' for s in status.values())} archs have a "
          "non-finite statistic (ranked last by the proxies that read it)\n")
    print("| proxy | tau (ours) | tau ours, NASLib archs | tau NASLib, same archs | published full space | "
          "Spearman ours vs NASLib |")
    print("|---|---|---|---|---|---|")
    for name in BASELINES:
        scores = worst_filled(PROXIES[name].evaluate(table).numpy())
        ours = kendall(scores, accuracy)
        if name in naslib.columns:
            reference = naslib.loc[archs[shared], name].to_numpy()
            cells = (f"{kendall(scores[shared], accuracy[shared]):.3f}", f"{kendall(reference, accuracy[shared]):.3f}",
                     f"{spearman(scores[shared], reference):.3f}")
        else:
            cells = ("", "", "")
        published = f"{PUBLISHED[name]:.3f}" if name in PUBLISHED else ""
        print(f"| {name} | {ours:.3f} | {cells[0]} | {cells[1]} | {published} | {cells[2]} |")


if __name__ == "__main__":
    main()
